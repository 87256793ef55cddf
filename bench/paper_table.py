"""The paper's comparison table on data we have: models x seeds, trained and scored alike.

    python bench/paper_table.py --data mnist --data-dir ../shared/data/mnist --epochs 50 \
        --models vae,vae-flow,hoffman,lae --seeds 0,1,2 --out runs/table-mnist

Each (model, seed) is trained from the preset ``<model>-mnist5k-mlp`` (the authors' MLP, latent
dim 8, discretised logistic on 8-bit pixels) with ``data.name`` replaced, then scored with
``lae eval --metrics nll-ais,elbo,iwae,mse`` (AIS NLL, and the paper's own metric: the negative
ELBO per dimension, with the hand-set q = N(f(x), 0.05^2) for the LAE) on ``--n-examples``
evenly spaced test images; ``lae report`` then writes one row per model with mean ± std over the
seeds. Extra ``--set key=value`` pairs are passed to every ``lae train`` (e.g.
``--set data.binarize=dynamic --set model.likelihood=bernoulli`` for binarised MNIST).
Runs that already have results.json are skipped, so an interrupted table can be continued.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path


def lae(*args: str) -> None:
    cmd = [sys.executable, "-m", "lae.cli", *args]
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default="mnist")
    ap.add_argument("--data-dir", default=None)
    ap.add_argument("--models", default="vae,vae-flow,hoffman,lae")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--epochs", type=int, default=50)
    ap.add_argument("--n-examples", type=int, default=1000, help="test images scored")
    ap.add_argument("--ais-chains", type=int, default=16)
    ap.add_argument("--ais-temps", type=int, default=1000)
    ap.add_argument("--k", type=int, default=1000, help="IWAE samples")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    out = Path(args.out)
    runs = []
    for model in args.models.split(","):
        for seed in args.seeds.split(","):
            run = out / f"{model}-seed{seed}"
            runs.append(run)
            if (run / "results.json").is_file():
                continue
            t0 = time.perf_counter()
            train = ["train", f"{model}-mnist5k-mlp", "--out", str(run), f"--data.name={args.data}",
                     f"--train.epochs={args.epochs}", f"--train.seed={seed}",
                     "--train.progress=false", *[f"--{kv}" for kv in args.set]]
            if args.data_dir:
                train += ["--data-dir", args.data_dir]
            if (run / "config.yaml").is_file():
                train.append("--resume")
            lae(*train)
            lae("eval", str(run), "--metrics", "nll-ais,elbo,iwae,mse", "--k", str(args.k),
                "--n-examples", str(args.n_examples), "--ais-chains", str(args.ais_chains),
                "--ais-temps", str(args.ais_temps), *(["--data-dir", args.data_dir]
                                                      if args.data_dir else []))
            print(f"{run}: {time.perf_counter() - t0:.0f} s", flush=True)
    lae("report", *map(str, runs), "--out", str(out / "report"))


if __name__ == "__main__":
    main()
