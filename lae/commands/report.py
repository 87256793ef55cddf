"""``lae report``: one Markdown table, with pictures, for one or more runs."""

from __future__ import annotations

import argparse
from pathlib import Path

from lae.argtypes import nonempty_text, path_text
from lae.commands.base import Command, refuse_another_runs_folder
from lae.errors import LaeError


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dirs", nargs="+", type=nonempty_text,
                   help="run folders written by lae train")
    p.add_argument("--out", type=path_text, required=True,
                   help="folder for report.md and its pictures")
    p.add_argument("--overwrite", action="store_true", help="replace an existing report.md and "
                   "pictures of the same names")


def run(args: argparse.Namespace) -> int:
    from lae.eval.report import write_report
    from lae.train.run import check_run_config, check_run_results

    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise LaeError(f"--out {args.out} is a file; lae report writes a folder (report.md and "
                       f"its pictures): choose another --out")
    refuse_another_runs_folder(Path(args.out))
    seen: dict[Path, str] = {}
    configs = {}  # each run's checkpoint's config: the run's where config.yaml was removed
    for run_dir in args.run_dirs:  # one run twice would read as two seeds that agree exactly
        key = Path(run_dir).resolve()
        if key in seen:
            raise LaeError(f"{run_dir} and {seen[key]} are the same run; give each run once")
        seen[key] = run_dir
        # the table shows config.yaml: it must be the run's
        configs[Path(run_dir)] = check_run_config(Path(run_dir))
        check_run_results(Path(run_dir), configs[Path(run_dir)])  # and its numbers
    path = write_report([Path(r) for r in args.run_dirs], Path(args.out), configs,
                        overwrite=args.overwrite)
    print(f"wrote {path}")
    return 0


COMMAND = Command("report", "Markdown table and pictures for one or more runs", add_arguments,
                  run)
