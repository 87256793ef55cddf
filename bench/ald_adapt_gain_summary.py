"""Summarise bench/ald_adapt_gain.sh: per run, the ALD chain's acceptance over training (share of
logged steps, each the mean over 5 steps, that accepted nothing or everything), the longest
stretch with nothing accepted, the step size's range, and the AIS NLL (bits/dim).

    python bench/ald_adapt_gain_summary.py RUNS_DIR OUT_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from lae.eval.plots import read_metrics


def summary(run: Path) -> dict:
    train = [r for r in read_metrics(run / "metrics.jsonl") if r.get("split") == "train"]
    acc = [r["acceptance"] for r in train]
    longest, current, every = 0, 0, train[1]["step"] - train[0]["step"]
    for a in acc:
        current = current + 1 if a == 0 else 0
        longest = max(longest, current)
    nll = json.loads((run / "results.json").read_text())["metrics"]["nll_ais_bpd"]
    return {"logged_every_steps": every, "logged": len(acc),
            "share_none_accepted": sum(a == 0 for a in acc) / len(acc),
            "share_all_accepted": sum(a == 1 for a in acc) / len(acc),
            "longest_none_accepted_steps": longest * every,
            "step_size_min": min(r["step_size"] for r in train),
            "step_size_max": max(r["step_size"] for r in train),
            "mean_acceptance": sum(acc) / len(acc),
            "nll_ais_bpd": nll["value"], "nll_ais_bpd_stderr": nll["stderr"],
            "acceptance_trace": acc}


def main(runs: Path, out: Path) -> None:
    print("| run | logged steps with none accepted | with all accepted | longest freeze "
          "(steps) | step size range | AIS NLL (bits/dim) |")
    print("|---|---|---|---|---|---|")
    for run in sorted(p for p in runs.iterdir() if p.is_dir()):
        s = summary(run)
        (out / f"{run.name}.json").write_text(json.dumps(s, indent=1) + "\n")
        print(f"| {run.name} | {s['share_none_accepted']:.0%} | {s['share_all_accepted']:.0%} | "
              f"{s['longest_none_accepted_steps']} | {s['step_size_min']:.2g}–"
              f"{s['step_size_max']:.2g} | {s['nll_ais_bpd']:.3f} ± "
              f"{s['nll_ais_bpd_stderr']:.3f} |")


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
