"""Table of bench/fidelity_check.sh's results: OUT/<label>-s<seed>-e<epoch>.json -> OUT/summary.md.

    python bench/fidelity_check_summary.py OUT
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def row(path: Path) -> str:
    m = json.loads(path.read_text())["metrics"]
    sd, err, inf = (m[f"posterior_{k}"] for k in ("sd_ratio", "mean_error_median_sd",
                                                 "infer_error_median_sd"))
    st = sd["settings"]
    return (f"| {path.stem} | {sd['value']:.2f} ({st['p10_p90'][0]:.2f}–{st['p10_p90'][1]:.2f}) "
            f"| {st['share_inside_0.8_1.25']:.0%} | {err['value']:.2f} "
            f"({err['settings']['p10_p90'][0]:.2f}–{err['settings']['p10_p90'][1]:.2f}) | "
            f"{err['settings']['share_below_0.5']:.0%} | {inf['value']:.2f} | "
            f"{st['rank_rhat_max']:.3f} | {st['bulk_ess_min']:.0f} | "
            f"{st['points_budget_doubled']} | {st['points_left_out']} |")


def main(out: Path) -> None:
    lines = ["| run | sd ratio, median (10–90%) | inside 0.8–1.25 | mean error, posterior sd, "
             "median (10–90%) | within 0.5 sd | infer(x) error, median sd | rank R-hat max | "
             "bulk ESS min | points doubled | points left out |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    lines += [row(p) for p in sorted(out.glob("*-e[0-9]*.json"))]
    (out / "summary.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main(Path(sys.argv[1]))
