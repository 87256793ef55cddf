"""Why an LAE gets worse late in training: per kept epoch checkpoint of a run, train against
validation likelihood and the state of the chain on Phi (any model's run; the chain's columns
are the LAE's).

    python bench/lae_decline.py RUN_DIR [--epochs 1,2,...] [--n 200] [--out FILE.json]

Per checkpoint: AIS NLL (bits/dim; M = 2 chains x K = 100 temperatures, HMC, the lae eval
defaults otherwise) on N evenly spaced training images and on N evenly spaced validation images
(the run's data.val_size split, which training never saw), |Phi| (the chain's norm: its random
walk in the directions no batch constrains grows it), the step sizes, and the codes Phi g(x) of
the validation images against the prior N(0, I): the norm of their mean, the mean of their
variances per coordinate and the mean |z|. The run's data must be where its config says. One
thread.
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import torch

from lae.data import evenly_spaced, load_dataset
from lae.eval.ais import ais_log_px
from lae.train import load_run
from lae.train.checkpoint import find_checkpoint


def nll_bpd(model, x: torch.Tensor, g: torch.Generator) -> float:
    log_px, _ = ais_log_px(model.prior, model.log_likelihood, x, n_chains=2, n_temps=100,
                           generator=g)
    return float(-log_px.mean()) / (x[0].numel() * math.log(2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("run_dir")
    parser.add_argument("--epochs", default=None, help="comma-separated; default every kept one")
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--out")
    args = parser.parse_args()
    torch.set_num_threads(1)
    run_dir = Path(args.run_dir)
    if args.epochs:
        epochs = [int(e) for e in args.epochs.split(",")]
    else:
        epochs = sorted(int(p.stem.split("_")[1]) for p in (run_dir / "checkpoints").glob(
            "epoch_*.pt"))
    first = load_run(run_dir, checkpoint=str(epochs[0]))
    splits = load_dataset(first.config.data)
    if splits.val is None:
        raise SystemExit(f"{run_dir}: the run has no validation split (data.val_size)")
    x_train = evenly_spaced(splits.train, args.n)
    x_val = evenly_spaced(splits.val, args.n)
    rows = []
    for epoch in epochs:
        find_checkpoint(run_dir, str(epoch))
        model = load_run(run_dir, checkpoint=str(epoch)).model
        g = torch.Generator().manual_seed(0)
        with torch.no_grad():  # the LAE's amortized codes; another model's infer(x)
            codes = (model.chain_latents(x_val) if hasattr(model, "chain_latents")
                     else model.infer(x_val, generator=g))
        row = {"epoch": epoch,
               "nll_ais_bpd_train": nll_bpd(model, x_train, g),
               "nll_ais_bpd_val": nll_bpd(model, x_val, g),
               "code_mean_norm": float(codes.mean(0).norm()),
               "code_var_mean": float(codes.var(0).mean()),
               "code_abs_mean": float(codes.abs().mean())}
        if hasattr(model, "phi"):
            row |= {"phi_norm": float(model.phi.norm()),
                    "step_size": float(model.log_step_size.exp().mean())}
        if hasattr(model, "log_mala_step_size"):
            row["mala_step_size"] = float(model.log_mala_step_size.exp())
        rows.append(row)
        print(json.dumps(row), flush=True)
    record = {"command": f"python bench/lae_decline.py {args.run_dir} --n {args.n}",
              "images_per_split": args.n, "ais": "M = 2, K = 100, HMC", "epochs": rows}
    if args.out:
        Path(args.out).write_text(json.dumps(record, indent=1) + "\n")


if __name__ == "__main__":
    main()
