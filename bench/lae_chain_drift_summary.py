"""Summarise bench/lae_chain_drift.sh: per variant and seed, the ALD chain's freezes (logged
steps, each the mean acceptance over 5 steps, with none accepted; the longest such stretch), the
last |Phi|, and the AIS NLL (bits/dim); per variant, the NLL minus the preset's paired over
seeds (mean and standard error).

    python bench/lae_chain_drift_summary.py RUNS_DIR [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import math
import re
from pathlib import Path

from lae.eval.plots import read_metrics


def run_summary(run: Path) -> dict:
    train = [r for r in read_metrics(run / "metrics.jsonl") if r.get("split") == "train"]
    acc = [r["acceptance"] for r in train]
    longest = current = 0
    every = train[1]["step"] - train[0]["step"]
    for a in acc:
        current = current + 1 if a == 0 else 0
        longest = max(longest, current)
    nll = json.loads((run / "results.json").read_text())["metrics"]["nll_ais_bpd"]
    return {"share_none_accepted": sum(a == 0 for a in acc) / len(acc),
            "longest_none_accepted_steps": longest * every,
            "mean_acceptance": sum(acc) / len(acc),
            "phi_norm_last": train[-1].get("phi_norm"),
            "nll_ais_bpd": nll["value"], "nll_ais_bpd_stderr": nll["stderr"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("runs")
    parser.add_argument("--baseline", default="preset")
    parser.add_argument("--out")
    args = parser.parse_args()
    runs: dict[str, dict[int, dict]] = {}
    for run in sorted(Path(args.runs).iterdir()):
        m = re.fullmatch(r"(.+)-s(\d+)", run.name)
        if m and run.is_dir() and (run / "results.json").exists():
            runs.setdefault(m[1], {})[int(m[2])] = run_summary(run)
    base = runs.get(args.baseline, {})
    print("| variant | seeds | logged steps with none accepted (per seed) | longest freeze, "
          "steps | last abs(Phi) | AIS NLL, bits/dim (per seed) | minus preset, paired, "
          "mean ± s.e. |")
    print("|---|---|---|---|---|---|---|")
    out = {}
    for name, seeds in runs.items():
        ss = sorted(seeds)
        diffs = [seeds[s]["nll_ais_bpd"] - base[s]["nll_ais_bpd"] for s in ss if s in base]
        mean = sum(diffs) / len(diffs) if diffs else float("nan")
        se = (math.sqrt(sum((d - mean) ** 2 for d in diffs) / (len(diffs) - 1) / len(diffs))
              if len(diffs) > 1 else float("nan"))
        out[name] = {"seeds": seeds, "paired_minus_baseline_mean": mean,
                     "paired_minus_baseline_stderr": se}
        def cell(key: str, fmt: str, seeds: dict = seeds, ss: list = ss) -> str:
            return " / ".join(format(seeds[s][key], fmt) for s in ss)

        print(f"| {name} | {','.join(map(str, ss))} | {cell('share_none_accepted', '.0%')} | "
              f"{cell('longest_none_accepted_steps', 'd')} | {cell('phi_norm_last', '.2f')} | "
              f"{cell('nll_ais_bpd', '.3f')} | {mean:+.3f} ± {se:.3f} |")
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
