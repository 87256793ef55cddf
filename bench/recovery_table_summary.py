"""Summarise bench/recovery_table.sh: one Markdown row per run (MSE on [0, 1] of the hidden
training values, of the decoder on the seen ones, the per-pixel-mean fill) and the JSON records.

Usage: python bench/recovery_table_summary.py OUT_DIR OUT.json
"""

import json
import sys
from pathlib import Path

root, out = Path(sys.argv[1]), Path(sys.argv[2])
records = []
for path in sorted(root.glob("*/inpaint/train-*.json")):
    res = json.loads(path.read_text())
    records.append({"run": path.parent.parent.name, **{k: res[k] for k in (
        "mask", "trained_on_mask", "missing_fraction", "epoch", "metrics", "settings")}})
out.parent.mkdir(parents=True, exist_ok=True)
out.write_text(json.dumps(records, indent=1))
print("| run | trained on | MSE hidden values | PSNR hidden (dB) | decoder MSE seen values | "
      "per-pixel-mean fill |")
print("|---|---|---|---|---|---|")
for r in records:
    m = r["metrics"]
    print(f"| {r['run']} | {r['trained_on_mask'] or 'whole images'} | "
          f"{m['mse_missing_01']['value']:.4f} ± {m['mse_missing_01']['stderr']:.4f} | "
          f"{m['psnr_missing_db']['value']:.2f} | {m['mse_observed_decoder_01']['value']:.4f} | "
          f"{m['mean_fill_mse_missing_01']['value']:.4f} |")
