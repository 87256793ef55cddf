"""Table of bench/distributed_scaling.sh: images/s (global, mean over the train records of the
last epoch) and seconds of the last training epoch, per model and layout.

Usage: python bench/distributed_scaling_summary.py OUT
"""

import json
import sys
from pathlib import Path

from lae.eval.plots import read_metrics

out = Path(sys.argv[1])
rows = {}
for run in sorted(p for p in out.iterdir() if p.is_dir()):
    records = read_metrics(run / "metrics.jsonl")
    tests = [r for r in records if r["split"] == "test"]
    last = tests[-1]["epoch"]
    per_s = [r["images_per_s"] for r in records if r["split"] == "train" and r["epoch"] == last]
    seconds = tests[-1]["train_seconds"] - (tests[-2]["train_seconds"] if len(tests) > 1 else 0)
    rows[run.name] = {"images_per_s": sum(per_s) / len(per_s), "epoch_seconds": seconds,
                      "epoch": last}
print(json.dumps(rows, indent=1))
print("\n| model | layout | global batch | images/s | seconds/epoch | images/s vs 1x1 |")
print("|---|---|---|---|---|---|")
for name, r in rows.items():
    model, layout, batch = name.split("-")
    base = rows[f"{model}-1x1-b100"]["images_per_s"]
    procs, threads = layout.split("x")
    gb = int(batch[1:]) * int(procs)
    print(f"| {model} | {procs} process(es) x {threads} thread(s) | {gb} | "
          f"{r['images_per_s']:.0f} | {r['epoch_seconds']:.1f} | {r['images_per_s'] / base:.2f} |")
