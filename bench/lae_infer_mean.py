"""How far candidate codes of a trained LAE lie from each image's posterior mean.

    python bench/lae_infer_mean.py RUN_DIR [CHECKPOINT] [--out FILE]

On 40 evenly spaced test images: the posterior mean from the posterior-fidelity reference
(lae/eval/posterior.py: 4 chains, 2 started near Phi g(x) and 2 from the prior, 1500 + 1500
MALA steps with a dense mass matrix), then, per candidate, the median over image x coordinate
of |candidate - posterior mean| / posterior sd: Phi g(x), and the mean of D parallel MALA chains
of S steps from Phi g(x) at the model's adapted refinement step (the mean of the last half of
each chain's states, and of the final states only). One thread. Used for docs/models.md
("What infer(x) gives"); writes results/lae_infer_mean.json.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from lae.data import evenly_spaced, load_dataset
from lae.eval.posterior import reference_samples
from lae.samplers import MALA, run_chain
from lae.samplers.base import tile_batch
from lae.train import load_run

RESULTS = Path(__file__).parent.parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir")
    parser.add_argument("checkpoint", nargs="?", default="last")
    parser.add_argument("--out", default=str(RESULTS / "lae_infer_mean.json"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    run = load_run(Path(args.run_dir), checkpoint=args.checkpoint)
    model = run.model
    x = evenly_spaced(load_dataset(run.config.data).test, 40)
    g = torch.Generator().manual_seed(0)
    start = model.chain_latents(x).detach()
    z0 = torch.stack([start + 0.01 * torch.randn(start.shape, generator=g) for _ in range(2)]
                     + [model.prior.sample(x.shape[0], generator=g) for _ in range(2)])
    ref = reference_samples(model.log_joint, x, z0, 1500, 1500, generator=g)
    mean, sd = ref.samples.mean(0), ref.samples.std(0)

    def error(z: torch.Tensor) -> float:
        return float(((z - mean).abs() / sd).median())

    record = {"command": f"python bench/lae_infer_mean.py {args.run_dir} {args.checkpoint}",
              "images": int(x.shape[0]), "reference_rank_rhat_max": float(ref.rhat.max()),
              "phi_g_x": error(start), "mala_means": []}
    kernel = MALA(model.log_mala_step_size.exp())
    for draws in (1, 8, 32):
        x_rep = tile_batch(x, draws)
        energy_fn = lambda z, xx=x_rep: -model.log_joint(xx, z)  # noqa: E731
        for steps in (5, 20, 50):
            _, trace, _ = run_chain(kernel, kernel.init(tile_batch(start, draws), energy_fn),
                                    energy_fn, steps - steps // 2, warmup=steps // 2,
                                    generator=g)
            trace = trace.reshape(trace.shape[0], draws, *start.shape)
            record["mala_means"].append({
                "chains": draws, "steps": steps,
                "mean_of_last_half": error(trace.mean((0, 1))),
                "mean_of_final_states": error(trace[-1].mean(0))})
            print(record["mala_means"][-1], flush=True)
    print("Phi g(x):", record["phi_g_x"])
    Path(args.out).write_text(json.dumps(record, indent=2) + "\n")


if __name__ == "__main__":
    main()
