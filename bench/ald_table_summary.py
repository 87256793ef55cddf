"""The LAE-fix table: mean ± std over seeds of each variant's scores, from bench/ald_table.sh runs.

    python bench/ald_table_summary.py [--root runs/ald-fix] [--epoch 3] [--baseline vae]

Reads every ``ROOT/<variant>-s<seed>/results-epoch<E>*.json`` (metrics of one run merged across
files), prints a Markdown table: AIS NLL (bits/dim), BDMC gap (nats/image), posterior-fidelity
columns (with the images left out for unconverged references; "not counted" for results scored
before that rule), and each variant's AIS NLL minus the baseline's, paired by seed, ± the
standard error of that difference over seeds.
"""

from __future__ import annotations

import argparse
import json
import math
import re
import statistics
from collections import defaultdict
from pathlib import Path

RESCORING_ORDER = {"": 0, "-table": 1, "-bdmc": 2, "-posterior": 3}
COLUMNS = [  # (metric key, header, transform)
    ("nll_ais_bpd", "AIS NLL, bits/dim", lambda v: v),
    ("bdmc_gap_nats", "BDMC gap, nats/image", lambda v: v),
    ("posterior_variance_ratio", "sd ratio", math.sqrt),
    ("posterior_mean_error_sd", "mean error, posterior sd", lambda v: v),
    ("posterior_mmd", "MMD²", lambda v: v),
    ("posterior_shared_motion", "shared motion, test chain", lambda v: v),
    ("points_left_out", "images left out (R-hat > 1.1) of 100", lambda v: v),
]


def load(root: Path, epoch: int) -> dict[str, dict[int, dict[str, float]]]:
    runs: dict[str, dict[int, dict[str, float]]] = defaultdict(dict)
    for run in sorted(root.iterdir()):
        m = re.fullmatch(r"(.+)-s(\d+)", run.name)
        # later scorings win for the same key: first ald_fix.sh's, then ald_table.sh's (-table),
        # then -bdmc, then the posterior rescoring (-posterior)
        files = sorted(run.glob(f"results-epoch{epoch}*.json"),
                       key=lambda f: RESCORING_ORDER.get(f.stem.removeprefix(
                           f"results-epoch{epoch}"), len(RESCORING_ORDER)))
        if not m or not files:
            continue
        merged: dict[str, float] = {}
        for f in files:
            metrics = json.loads(f.read_text())["metrics"]
            merged |= {k: v["value"] for k, v in metrics.items()}
            if "posterior_variance_ratio" in metrics:  # absent in files scored before it existed
                left = metrics["posterior_variance_ratio"]["settings"].get("points_left_out")
                merged["points_left_out"] = float("nan") if left is None else left
        runs[m.group(1)][int(m.group(2))] = merged
    return runs


def cell(values: list[float]) -> str:
    if any(math.isnan(v) for v in values):
        return "not counted"
    if not values:
        return "–"
    if len(values) == 1:
        return f"{values[0]:.3f}"
    return f"{statistics.mean(values):.3f} ± {statistics.stdev(values):.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", default="runs/ald-fix")
    parser.add_argument("--epoch", type=int, default=3)
    parser.add_argument("--baseline", default="vae")
    args = parser.parse_args()
    runs = load(Path(args.root), args.epoch)
    base = runs.get(args.baseline, {})
    header = ["variant", "seeds", *[h for _, h, _ in COLUMNS], f"AIS NLL − {args.baseline}"]
    print("| " + " | ".join(header) + " |\n|" + "---|" * len(header))
    for variant, seeds in sorted(runs.items()):
        row = [variant, ",".join(map(str, sorted(seeds)))]
        for key, _, fn in COLUMNS:
            row.append(cell([fn(r[key]) for r in seeds.values() if key in r]))
        diffs = [r["nll_ais_bpd"] - base[s]["nll_ais_bpd"] for s, r in seeds.items()
                 if s in base and "nll_ais_bpd" in r and "nll_ais_bpd" in base[s]]
        if variant == args.baseline or not diffs:
            row.append("")
        elif len(diffs) == 1:
            row.append(f"{diffs[0]:+.4f} (1 seed)")
        else:
            se = statistics.stdev(diffs) / math.sqrt(len(diffs))
            row.append(f"{statistics.mean(diffs):+.4f} ± {se:.4f} ({len(diffs)} seeds)")
        print("| " + " | ".join(row) + " |")


if __name__ == "__main__":
    main()
