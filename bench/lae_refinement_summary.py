"""Summarise bench/lae_refinement.sh: per MALA-step count, training seconds (steps only),
posterior fidelity and AIS NLL (bits/dim), written to OUT/summary.json and printed as a table.

    python bench/lae_refinement_summary.py RUNS_DIR OUT_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from lae.eval.plots import read_metrics


def train_seconds(run: Path) -> float:
    """Seconds spent in training steps: each train record covers log_every steps of
    batch-size images at its images_per_s (per-epoch evaluation and plots excluded)."""
    records = [r for r in read_metrics(run / "metrics.jsonl") if r.get("split") == "train"]
    steps = [r["step"] for r in records]
    seconds, previous = 0.0, 0
    for r, step in zip(records, steps):
        seconds += (step - previous) * 100 / r["images_per_s"]  # batch size 100 (the preset)
        previous = step
    return seconds


def main(runs: Path, out: Path) -> None:
    rows = {}
    for run in sorted(runs.glob("m[0-9]")):
        results = json.loads((run / "results.json").read_text())["metrics"]
        picked = {k: v for k, v in results.items() if k.startswith(("nll_ais", "posterior_"))}
        rows[run.name] = {"train_seconds": train_seconds(run),
                          "steps": max(r["step"] for r in read_metrics(run / "metrics.jsonl")),
                          **picked}
    (out / "summary.json").write_text(json.dumps(rows, indent=2) + "\n")
    print(json.dumps(rows, indent=2))


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
