"""Summarise bench/inpaint_table.sh: Markdown rows (run, steps, mask) of MSE on the missing
pixels [0, 1], PSNR and the per-pixel-mean baseline, plus every record as JSON.

Usage: python bench/inpaint_table_summary.py OUT_DIR OUT.json
"""

import json
import sys
from pathlib import Path

root, out = Path(sys.argv[1]), Path(sys.argv[2])
records = []
for path in sorted(root.glob("*/*.json")):
    res = json.loads(path.read_text())
    run, steps = path.parent.name.rsplit("-steps", 1)
    m = res["metrics"]
    records.append({"run": run, "steps": int(steps), "mask": res["mask"],
                    "missing_fraction": res["missing_fraction"], "epoch": res["epoch"],
                    "mse_missing_01": m["mse_missing_01"], "psnr_missing_db": m["psnr_missing_db"],
                    "mean_fill_mse_missing_01": m["mean_fill_mse_missing_01"],
                    "mala_acceptance": m["mala_acceptance"]})
out.parent.mkdir(parents=True, exist_ok=True)
out.write_text(json.dumps(records, indent=1))
masks = ["centre", "bottom", "pixels:0.7", "patches:4:0.5"]
print("| model | MALA steps | " + " | ".join(masks) + " |")
print("|---|---|" + "---|" * len(masks))
for run in sorted({r["run"] for r in records}):
    for steps in sorted({r["steps"] for r in records}):
        cells = []
        for mask in masks:
            r = next(r for r in records if (r["run"], r["steps"], r["mask"]) == (run, steps, mask))
            mse = r["mse_missing_01"]
            cells.append(f"{mse['value']:.4f} ± {mse['stderr']:.4f} "
                         f"({r['psnr_missing_db']['value']:.1f} dB)")
        print(f"| {run} | {steps} | " + " | ".join(cells) + " |")
base = [next(r for r in records if r["mask"] == mask)["mean_fill_mse_missing_01"]["value"]
        for mask in masks]
print("| per-pixel mean fill | - | " + " | ".join(f"{b:.4f}" for b in base) + " |")
