"""Summarise bench/anomaly_table.sh runs: a Markdown table (rows: model x score, columns: the
held-out digits; cells: mean ± sd over seeds of AUPRC = auc(recall, precision), with the average
precision and AUROC below) and the chance row, plus every record as JSON.

Usage: python bench/anomaly_table_summary.py RUNS_DIR OUT.json
"""

import json
import statistics
import sys
from pathlib import Path

runs, out = Path(sys.argv[1]), Path(sys.argv[2])
records = []
# RUN/anomaly/SCORE/anomaly.json (RUN/anomaly-SCORE.json before lae anomaly wrote a folder)
for path in sorted([*runs.glob("*/anomaly/*/anomaly.json"), *runs.glob("*/anomaly-*.json")]):
    res = json.loads(path.read_text())
    run = path.parent if path.name != "anomaly.json" else path.parents[2]
    model, digit, seed = run.name.split("-")
    records.append({"model": model, "digit": int(digit[1:]), "seed": int(seed[1:]),
                    "score": res["score"], "epoch": res["epoch"], **res["metrics"]})
out.parent.mkdir(parents=True, exist_ok=True)
out.write_text(json.dumps(records, indent=1))


def cell(values):
    if len(values) < 2:
        return f"{values[0]:.3f} (n=1)" if values else ""
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


digits = sorted({r["digit"] for r in records})
print("| model, score | metric | " + " | ".join(f"digit {d}" for d in digits) + " |")
print("|---|---|" + "---|" * len(digits))
chance = {d: next(r["chance_auprc"] for r in records if r["digit"] == d) for d in digits}
print("| chance | AUPRC | " + " | ".join(f"{chance[d]:.3f}" for d in digits) + " |")
for model in sorted({r["model"] for r in records}):
    for score in sorted({r["score"] for r in records}):
        rows = [r for r in records if r["model"] == model and r["score"] == score]
        if not rows:
            continue
        for key, label in (("auprc", "AUPRC"), ("average_precision", "AP"), ("auroc", "AUROC")):
            cells = [cell([r[key] for r in rows if r["digit"] == d]) for d in digits]
            print(f"| {model}, {score} | {label} | " + " | ".join(cells) + " |")
