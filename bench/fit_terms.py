"""Where a model's likelihood goes, on training against test images: the terms of
-log p(x) = E_post[-log p(x | z)] + KL(p(z | x) || p(z)) under the model's own posterior samples.

    python bench/fit_terms.py RUN_DIR [--checkpoint best] [--n 200] [--draws 20] [--out FILE.json]

Per split (the run's training images, which it trained on, and its test images; N evenly spaced
of each), from ``posterior_samples(x, DRAWS)`` (the model's evaluation-time sampler: the LAE's
per-image adaptive MALA, a VAE's or Hoffman's likewise where they have no other):

- ``distortion_nats``: E_post[-log p(x | z)], nats per image, averaged over images;
- ``prior_energy_nats``: E_post[-log p(z)];
- ``posterior_var``: the posterior variance per coordinate, averaged;
- ``aggregate_mean``, ``aggregate_var``: the mean and variance per coordinate of all the draws of
  the split (the aggregate posterior, against the prior's 0 and 1), and
  ``aggregate_gauss_kl_nats``: KL(N(mean, diag var) || N(0, I)), what a prior refitted to those
  two moments would gain at most through them.

A decoder that fits its training images better than unseen ones has the smaller distortion on
the training split. One thread; the run's data must be where its config says.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from lae.data import evenly_spaced, load_dataset
from lae.train import load_run


def split_terms(model, x: torch.Tensor, draws: int, generator: torch.Generator) -> dict:
    """The terms above for images x [N, ...]."""
    z = model.posterior_samples(x, draws, generator=generator)  # [S, N, K]
    with torch.no_grad():
        log_lik = torch.stack([model.log_likelihood(x, z_s) for z_s in z])  # [S, N]
        log_prior = model.prior.log_prob(z)  # [S, N]
    flat = z.reshape(-1, z.shape[-1])
    mean, var = flat.mean(0), flat.var(0)
    return {"distortion_nats": float(-log_lik.mean()),
            "prior_energy_nats": float(-log_prior.mean()),
            "posterior_var": float(z.var(0).mean()),
            "aggregate_mean": mean.tolist(), "aggregate_var": var.tolist(),
            "aggregate_gauss_kl_nats": float(0.5 * (var + mean.square() - 1 - var.log()).sum())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir")
    parser.add_argument("--checkpoint", default="best")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--draws", type=int, default=20)
    parser.add_argument("--out")
    args = parser.parse_args()
    torch.set_num_threads(1)
    loaded = load_run(args.run_dir, checkpoint=args.checkpoint)
    splits = load_dataset(loaded.config.data)
    record = {"command": f"python bench/fit_terms.py {args.run_dir} --checkpoint "
                         f"{args.checkpoint} --n {args.n} --draws {args.draws}",
              "epoch": loaded.epoch}
    for split in ("train", "test"):
        generator = torch.Generator().manual_seed(0)
        record[split] = split_terms(loaded.model, evenly_spaced(getattr(splits, split), args.n),
                                    args.draws, generator)
    text = json.dumps(record, indent=1)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
