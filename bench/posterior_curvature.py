"""The posterior's curvature against a fixed-step posterior chain, per epoch checkpoint, for the
learned-prior models (``flow-prior``, ``latent-ebm``): does the decoder sharpen a latent direction
past the stability limit of the chain that trains it?

    python bench/posterior_curvature.py RUN_DIR [--images 50] [--epochs 1,5,10 | --checkpoints
        best,last] [--out FILE]

For each epoch checkpoint, on ``--images`` evenly spaced test images: the posterior chain's end
z_K (``model.infer``), the posterior mode of U(x, z) = -log p(x | z) - log p(z) by Adam from z_K,
the eigenvalues of the Hessian of U there, and beside them the chain's fixed step eta:

- ``eta_times_lambda_max``: Langevin with step eta is stable along a direction of curvature
  lambda only for eta * lambda < 2; past it the chain's end oscillates away from the mode;
- ``chain_distance_laplace_sd``: z_K from the mode in the Laplace posterior's sd (Mahalanobis,
  per sqrt(d)): about 1 for a chain that samples the posterior;
- ``prior_curvature_max``: the largest eigenvalue of the prior's own Hessian -d^2 log p(z) at the
  mode (the flow's or the EBM's), to tell the prior's sharpening from the decoder's;
- the test MSE per pixel [0, 1] of the decoded z_K.

Medians over images; one thread; prints one line per checkpoint and writes JSON.
"""

from __future__ import annotations

from pathlib import Path

import torch
from shortrun_collapse import hessian_of_energy, mode, per_checkpoint_main

from lae.data import evenly_spaced, load_dataset
from lae.train import load_run


def measure(run_dir: Path, checkpoint: str, n_images: int) -> dict:
    run = load_run(run_dir, checkpoint=checkpoint)
    model = run.model.eval()
    x = evenly_spaced(load_dataset(run.config.data).test, n_images)
    energy_fn = lambda z: -model.log_joint(x, z)  # noqa: E731
    eta = model.cfg.posterior_step_size
    z_k = model.infer(x, generator=torch.Generator().manual_seed(0))
    z_mode = mode(energy_fn, z_k)
    lam, vec = torch.linalg.eigh(hessian_of_energy(energy_fn, z_mode))  # ascending
    prior_lam = torch.linalg.eigvalsh(hessian_of_energy(lambda z: -model.prior.log_prob(z),
                                                        z_mode))
    d = z_mode.shape[1]
    r = ((z_k - z_mode)[:, None, :] @ vec).squeeze(1)
    distance = ((r ** 2 * lam.clamp_min(1e-9)).sum(1) / d).sqrt()
    lo, hi = model.spec.value_range
    with torch.no_grad():
        mse = float(((model.decode(z_k).mean - x) ** 2).mean()) / (hi - lo) ** 2
    med = lambda t: float(t.median())  # noqa: E731
    return {
        "checkpoint": checkpoint, "epoch": run.epoch, "eta": eta,
        "steps": model.cfg.test_steps or model.cfg.posterior_steps,
        "lambda_max": med(lam[:, -1]), "lambda_min": med(lam[:, 0]),
        "eta_times_lambda_max": med(eta * lam[:, -1]),
        "share_of_images_past_the_limit": float((eta * lam[:, -1] > 2).double().mean()),
        "prior_curvature_max": med(prior_lam[:, -1]),
        "chain_distance_laplace_sd": med(distance),
        "mse_per_pixel_01": mse,
    }


def main() -> None:
    per_checkpoint_main(measure, "posterior_curvature.py", "curvature.json")

if __name__ == "__main__":
    main()
