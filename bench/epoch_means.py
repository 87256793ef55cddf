"""Per-epoch means of training records, side by side for several runs: a Markdown table.

    python bench/epoch_means.py RUN_OR_METRICS_JSONL ... --key log_joint_refined_nats \
        [--epochs 1,5,10] [--split train]

Each argument is a run folder (its metrics.jsonl) or a metrics.jsonl file. With ``--split
train`` (default) a cell is the mean of ``--key`` over the epoch's logged training records; with
another split (``val``, ``test``) it is that split's record of the epoch. Runs that lack the key
or the epoch get an empty cell.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

from lae.eval.plots import read_metrics


def epoch_means(path: Path, key: str, split: str) -> dict[int, float]:
    """epoch -> the mean of ``key`` over the epoch's records of ``split`` in a metrics.jsonl."""
    by_epoch: dict[int, list[float]] = {}
    for record in read_metrics(path):
        if record.get("split") == split and isinstance(record.get(key), (int, float)):
            by_epoch.setdefault(int(record["epoch"]), []).append(float(record[key]))
    return {epoch: statistics.fmean(values) for epoch, values in by_epoch.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs", nargs="+")
    parser.add_argument("--key", required=True)
    parser.add_argument("--split", default="train")
    parser.add_argument("--epochs", help="comma-separated (default: every epoch of any run)")
    args = parser.parse_args()
    paths = [Path(r) / "metrics.jsonl" if Path(r).is_dir() else Path(r) for r in args.runs]
    table = {str(r): epoch_means(p, args.key, args.split) for r, p in zip(args.runs, paths)}
    epochs = ([int(e) for e in args.epochs.split(",")] if args.epochs
              else sorted({e for means in table.values() for e in means}))
    print(f"| run ({args.split} {args.key}) | " + " | ".join(str(e) for e in epochs) + " |")
    print("|---|" + "---|" * len(epochs))
    for run, means in table.items():
        cells = [f"{means[e]:.4g}" if e in means else "" for e in epochs]
        print(f"| {run} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
