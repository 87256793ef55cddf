"""Why short-run's learned step size falls: the posterior's curvature at each epoch checkpoint.

    python bench/shortrun_collapse.py RUN_DIR [--images 50] [--epochs 1,5,10 | --checkpoints
        best,last] [--out FILE]

For every epoch checkpoint of a ``shortrun`` run (train with ``--train.keep_checkpoints=0``), on
``--images`` evenly spaced test images: each image's posterior mode (Adam on U(x, z) from the
short-run chain's end, 300 steps), the eigenvalues of the Hessian of U there (the Laplace
approximation's precision), and the learned step eta beside them:

- ``eta_times_lambda_max``: ULA is stable only for eta * lambda_max < 2 along the stiffest
  direction;
- ``steps_times_eta_lambda_min``: K * eta * lambda_min, how much of its distance from the prior
  draw the chain covers along the flattest direction in K steps (about 1 - exp(-that));
- ``chain_distance_laplace_sd``: the chain's end z_K from the mode, in the Laplace posterior's sd
  (Mahalanobis, per sqrt(d)); ``start_distance_laplace_sd`` the same for z_0;
- the condition number after per-coordinate scaling of each image (what per-coordinate step
  sizes could reach) and after one dense scaling shared by all images (a learned global
  preconditioner), and how close the stiffest direction is to a coordinate axis (1: on one);
- the likelihood's scale, the number of latent directions whose curvature exceeds the prior's by
  10x (``informative_dims``), and the test MSE per pixel [0, 1] of the K-step chain.

Medians over images; one thread; prints one line per checkpoint and writes JSON.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import torch

from lae.data import evenly_spaced, load_dataset
from lae.train import load_run
from lae.train.rundir import CHECKPOINT_DIR


def hessian_of_energy(energy_fn, z: torch.Tensor) -> torch.Tensor:
    """d^2 U / dz^2 per example, [B, d, d], for an energy summed over independent examples."""
    z = z.detach().requires_grad_(True)
    grad = torch.autograd.grad(energy_fn(z).sum(), z, create_graph=True)[0]
    rows = [torch.autograd.grad(grad[:, j].sum(), z, retain_graph=True)[0]
            for j in range(z.shape[1])]
    return torch.stack(rows, 1).detach()


def mode(energy_fn, z: torch.Tensor, steps: int = 300) -> torch.Tensor:
    z = z.detach().clone().requires_grad_(True)
    opt = torch.optim.Adam([z], lr=0.02)
    for _ in range(steps):
        opt.zero_grad()
        energy_fn(z).sum().backward()
        opt.step()
    return z.detach()


def measure(run_dir: Path, checkpoint: str, n_images: int) -> dict:
    run = load_run(run_dir, checkpoint=checkpoint)
    model = run.model.eval()
    x = evenly_spaced(load_dataset(run.config.data).test, n_images)
    energy_fn = model.energy(x)
    eta = model.step_sizes().detach()
    k = model.cfg.n_steps
    # the chain's own start: run() draws z_0 first from a generator seeded alike
    z0 = model.prior.sample(x.shape[0], generator=torch.Generator().manual_seed(0))
    z_k = model.run(x, n_steps=k, generator=torch.Generator().manual_seed(0))
    z_mode = mode(energy_fn, z_k)
    hess = hessian_of_energy(energy_fn, z_mode)
    lam, vec = torch.linalg.eigh(hess)  # ascending
    lam_min, lam_max = lam[:, 0], lam[:, -1]
    # Mahalanobis distance in the Laplace posterior (precision = hess), per sqrt(d)
    d = z_mode.shape[1]

    def laplace_distance(z: torch.Tensor) -> torch.Tensor:
        r = (z - z_mode)[:, None, :] @ vec  # [B, 1, d] in the eigenbasis
        return ((r.squeeze(1) ** 2 * lam.clamp_min(1e-9)).sum(1) / d).sqrt()

    # Would a preconditioner let one step serve every direction? The condition number after
    # the best per-coordinate scaling of each image (Jacobi: diag(H)^-1/2 H diag(H)^-1/2) and
    # after one dense matrix shared by the images (the mean Hessian's inverse square root).
    def condition(h: torch.Tensor) -> torch.Tensor:
        ev = torch.linalg.eigvalsh(h)
        return ev[:, -1] / ev[:, 0].clamp_min(1e-9)

    jacobi = hess.diagonal(dim1=1, dim2=2).clamp_min(1e-9).rsqrt()
    shared_lam, shared_vec = torch.linalg.eigh(hess.mean(0))
    shared = shared_vec @ torch.diag(shared_lam.clamp_min(1e-9).rsqrt()) @ shared_vec.T
    top_alignment = vec[:, :, -1].pow(2).amax(1)  # 1: the stiffest direction is one axis

    lo, hi = model.spec.value_range
    with torch.no_grad():  # on the [0, 1] pixel scale whatever the data's scale
        mse = float(((model.decode(z_k).mean - x) ** 2).mean()) / (hi - lo) ** 2
    scale = model.likelihood.scale.detach() if hasattr(model.likelihood, "scale") else None
    eta0 = float(eta.reshape(-1)[0])
    med = lambda t: float(t.median())  # noqa: E731
    return {
        "checkpoint": checkpoint, "epoch": run.epoch, "eta": eta0, "k": k,
        "likelihood_scale": None if scale is None else float(scale.mean()),
        "lambda_max": med(lam_max), "lambda_min": med(lam_min),
        "condition_number": med(lam_max / lam_min.clamp_min(1e-9)),
        "eta_times_lambda_max": med(eta0 * lam_max),
        "steps_times_eta_lambda_min": med(k * eta0 * lam_min),
        "condition_number_per_coordinate_scaled": med(
            condition(jacobi[:, :, None] * hess * jacobi[:, None, :])),
        "condition_number_shared_dense_scaled": med(condition(shared @ hess @ shared)),
        "stiffest_direction_axis_alignment": med(top_alignment),
        "informative_dims": med((lam > 10.0).sum(1).double()),
        "start_distance_laplace_sd": med(laplace_distance(z0)),
        "chain_distance_laplace_sd": med(laplace_distance(z_k)),
        "mse_per_pixel_01": mse,
    }


def per_checkpoint_main(measure_fn, script: str, default_out: str) -> None:
    """The command line both curvature scripts share: RUN_DIR, --images, --epochs (or
    --checkpoints best,last), --out; ``measure_fn(run_dir, checkpoint, n_images)`` -> a record
    per checkpoint, printed as a line and written as JSON with the command."""
    parser = argparse.ArgumentParser(description=sys.modules["__main__"].__doc__.split("\n")[0])
    parser.add_argument("run_dir")
    parser.add_argument("--images", type=int, default=50)
    parser.add_argument("--epochs", default="", help="comma-separated epochs (default: all)")
    parser.add_argument("--checkpoints", default="",
                        help="comma-separated checkpoint names instead (best, last)")
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    torch.set_num_threads(1)
    run_dir = Path(args.run_dir)
    checkpoints = args.checkpoints.split(",") if args.checkpoints else sorted(
        int(m.group(1)) for p in (run_dir / CHECKPOINT_DIR).glob("epoch_*.pt")
        if (m := re.match(r"epoch_(\d+)\.pt$", p.name)))
    if args.epochs and not args.checkpoints:
        checkpoints = [e for e in checkpoints if e in {int(v) for v in args.epochs.split(",")}]
    if not checkpoints:
        raise SystemExit(f"{run_dir / CHECKPOINT_DIR}: no epoch_NNNN.pt checkpoints; train with "
                         f"--train.keep_checkpoints=0")
    records = []
    for checkpoint in checkpoints:
        records.append(measure_fn(run_dir, str(checkpoint), args.images))
        print(json.dumps({k: (round(v, 4) if isinstance(v, float) else v)
                          for k, v in records[-1].items()}), flush=True)
    command = (f"python bench/{script} {args.run_dir} --images {args.images}"
               + (f" --epochs {args.epochs}" if args.epochs else "")
               + (f" --checkpoints {args.checkpoints}" if args.checkpoints else ""))
    out = Path(args.out) if args.out else run_dir / default_out
    out.write_text(json.dumps({"command": command, "records": records}, indent=2) + "\n")


def main() -> None:
    per_checkpoint_main(measure, "shortrun_collapse.py", "collapse.json")

if __name__ == "__main__":
    main()
