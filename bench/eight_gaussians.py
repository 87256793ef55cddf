"""The amortized ALD prior sampler of ``lae-ebm`` on eight Gaussians (sd 0.5), over seeds: how far
each statistic the test checks lands from the truth, to set and justify the test's tolerances
(tests/distributions/test_priors.py; docs/toys.md §4).

    OMP_NUM_THREADS=1 .venv/bin/python bench/eight_gaussians.py --seeds 0,1,2,3,4,5
"""

from __future__ import annotations

import argparse

import torch

from lae.toy.energy import ald_prior_sampler_on_eight_gaussians


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seeds", default="0,1,2,3,4,5")
    ap.add_argument("--sd", type=float, default=0.5)
    args = ap.parse_args()
    torch.set_num_threads(1)
    true_var, true_m2 = 2 + args.sd**2, 4 + 2 * args.sd**2  # ring radius 2
    worst: dict[str, float] = {}
    for seed in map(int, args.seeds.split(",")):
        run = ald_prior_sampler_on_eight_gaussians(seed=seed, sd=args.sd)
        row = {"mass off": float((run["mass"] - 1 / 8).abs().max()),
               "|mean|": float(run["mean"].abs().max()),
               "cov diag off %": 100 * float((run["cov"].diagonal() / true_var - 1).abs().max()),
               "E|z|^2 off %": 100 * abs(float(run["second_moment"]) / true_m2 - 1),
               "spread off %": 100 * abs(float(run["spread"] / run["exact_spread"]) - 1)}
        print(f"seed {seed}: " + ", ".join(f"{k} {v:.3f}" for k, v in row.items()), flush=True)
        worst = {k: max(v, worst.get(k, 0.0)) for k, v in row.items()}
    print("worst: " + ", ".join(f"{k} {v:.3f}" for k, v in worst.items()))


if __name__ == "__main__":
    main()
