"""``lae sample``: draw samples from a trained model as a picture grid."""

from __future__ import annotations

import argparse
from pathlib import Path

from lae.argtypes import count, file_path_text, nonempty_text, seed
from lae.commands.base import (
    Command,
    add_checkpoint_argument,
    refuse_another_runs_folder,
    refuse_run_files,
)
from lae.errors import ConfigError
from lae.files import refuse_existing

# what lae sample can write (matplotlib's imsave / savefig formats lae tests)
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".pdf", ".svg")
# lae sample keeps its draws in memory: more pictures than this is a mistyped -n
MAX_SAMPLE_VALUES = 2**28


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", type=nonempty_text, help="a run folder written by lae train")
    p.add_argument("-n", type=count(1, 10_000), default=64,
                   help="number of samples, drawn as one grid picture (default 64, at most 10000)")
    p.add_argument("--out", type=file_path_text, required=True, help="the PNG file to write")
    add_checkpoint_argument(p)
    p.add_argument("--seed", type=seed, default=0, help="seed of the prior draws (default 0)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")


def run(args: argparse.Namespace) -> int:
    from lae.eval.plots import save_model_samples
    from lae.train import load_run

    out = Path(args.out)
    if out.suffix.lower() not in PICTURE_SUFFIXES:
        raise ConfigError(f"--out {out}: expected a picture file ending in "
                          f"{', '.join(PICTURE_SUFFIXES)}")
    # the run's own pictures are training's, not this command's: refused before "exists"
    refuse_run_files(out, Path(args.run_dir), ())
    refuse_existing(out, args.overwrite)
    run = load_run(args.run_dir, args.checkpoint)
    refuse_another_runs_folder(out.parent, run.run_dir)
    if args.n * run.model.spec.n_dims > MAX_SAMPLE_VALUES:
        raise ConfigError(f"-n {args.n}: {args.n} samples of {run.model.spec.n_dims} values "
                          f"would not fit in memory; draw at most "
                          f"{MAX_SAMPLE_VALUES // run.model.spec.n_dims:,}")
    save_model_samples(run.model, args.n, out, seed=args.seed)
    print(f"wrote {args.n} samples of {run.run_dir} (epoch {run.epoch}) to {out}")
    return 0


COMMAND = Command("sample", "draw samples from a trained model as a PNG grid", add_arguments, run)
