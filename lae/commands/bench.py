"""``lae bench``: the benchmark suite (docs/bench.md)."""

from __future__ import annotations

import argparse
import shlex
from pathlib import Path

from lae.argtypes import (
    THREADS_MAX,
    NumberRangeError,
    count,
    decimal_number,
    nonempty_text,
    path_text,
)
from lae.commands.base import Command, refuse_another_runs_folder
from lae.errors import ConfigError


def add_arguments(p: argparse.ArgumentParser) -> None:
    from lae.bench.sizes import BENCH_DATASETS, DEFAULT_MODELS, SIZES

    p.add_argument("--out", type=path_text, required=True,
                   help="folder for the results; must be new or empty")
    p.add_argument("--models", default=DEFAULT_MODELS, type=nonempty_text,
                   help="comma-separated models, each optionally with config overrides after "
                        "'+', e.g. lae+model.mala_steps=0 (model.* keys and the optimiser's "
                        "train.lr, optimizer, adam_betas, grad_clip, compile, compile_mode); "
                        "the VAE (the speed baseline) is added when missing (default "
                        f"{DEFAULT_MODELS})")
    p.add_argument("--size", choices=list(SIZES), default="default",
                   help="tiny: seconds (tests); small: minutes; default: under 20 minutes on "
                        "one core (default)")
    p.add_argument("--data", choices=BENCH_DATASETS, default=BENCH_DATASETS[0],
                   help="the presets' data: each model runs <model>-<data>-mlp (default "
                        "mnist5k)")
    p.add_argument("--budgets", metavar="S,S,...",
                   help="training seconds per model at which the quality part scores it "
                        "(default: the size's)")
    p.add_argument("--threads", type=count(0, THREADS_MAX), default=1,
                   help="torch CPU threads, train.num_threads (0: torch's default; default 1)")
    p.add_argument("--device", default="auto", type=nonempty_text,
                   help="train.device (default auto)")
    p.add_argument("--data-dir", default=None, type=nonempty_text,
                   help="where the dataset files are (or go)")
    p.add_argument("--download", action="store_true",
                   help="download the dataset if missing")
    p.add_argument("--overwrite", action="store_true",
                   help="replace lae bench's own files in a non-empty --out (others are kept)")


def run(args: argparse.Namespace) -> int:
    from lae.bench.suite import run_bench

    refuse_another_runs_folder(Path(args.out))
    budgets = None
    if args.budgets is not None:
        try:  # ASCII numbers float32 holds (decimal_number), not the full-width ５
            budgets = [decimal_number(b.strip()) for b in args.budgets.split(",") if b.strip()]
        except NumberRangeError:
            budgets = [None]
        if None in budgets:
            raise ConfigError(f"--budgets: comma-separated seconds, e.g. 60,120; got "
                              f"{args.budgets!r}")
    run_bench(args.out, args.models, size=args.size, threads=args.threads, device=args.device,
              overwrite=args.overwrite, command=shlex.join(["lae", *args.argv]), data=args.data,
              budgets=budgets, data_dir=args.data_dir, download=args.download)
    return 0


COMMAND = Command(
    "bench", "benchmark suite: step time, operator counts, memory, evaluation throughput, "
             "quality against training time", add_arguments, run,
    description="Run the benchmark suite on the MLP presets (MNIST-5k unless --data) and write "
                "DIR/bench.json, DIR/summary.md and plots (docs/bench.md).")
