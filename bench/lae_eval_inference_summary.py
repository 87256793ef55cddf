"""Tables of bench/lae_eval_inference.py results, one row per inference and seed per checkpoint:
the sd ratio (median, 10th-90th percentile over image x coordinate), the mean error and infer's
error in posterior sd (medians), and the cost in decoder passes per image.

    python bench/lae_eval_inference_summary.py FILE.json [FILE.json ...] [--keys chain,...]
"""

from __future__ import annotations

import argparse
import json
import re
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("files", nargs="+")
    parser.add_argument("--keys", default="chain,mala-amortized-100,mala-prior-100,"
                        "mala-amortized-200,mala-prior-200,mala-amortized-400,mala-prior-400")
    args = parser.parse_args()
    records = {int(re.search(r"s(\d+)\.json$", f)[1]): json.loads(Path(f).read_text())
               for f in args.files}
    checkpoints = sorted({c for r in records.values() for c in r["checkpoints"]},
                         key=lambda c: (not c.isdigit(), int(c) if c.isdigit() else 0, c))
    for ckpt in checkpoints:
        print(f"\nepoch {ckpt}\n")
        print("| inference | seed | sd ratio, median (10th-90th) | share in 0.6-1.6 | mean error, "
              "posterior sd (share < 0.5) | infer(x) error, posterior sd | decoder passes per "
              "image: 200 draws / infer |")
        print("|---|---|---|---|---|---|---|")
        for key in args.keys.split(","):
            for seed, rec in sorted(records.items()):
                s = rec["checkpoints"].get(ckpt, {}).get("inference", {}).get(key)
                if s is None:
                    continue
                sd, me, ie = s["sd_ratio"], s["mean_error_sd"], s["infer_error_sd"]
                print(f"| {key} | {seed} | {sd['median']:.2f} ({sd['p10']:.2f}-{sd['p90']:.2f}) "
                      f"| {s['sd_ratio_inside_0.6_1.6']:.0%} | {me['median']:.2f} "
                      f"({me['share_below_0.5']:.0%}) | {ie['median']:.2f} | "
                      f"{s['decoder_passes_per_image_draws']} / "
                      f"{s['decoder_passes_per_image_infer']} |")


if __name__ == "__main__":
    main()
