"""The converged comparison's table from a ``bench/paper_table.py`` folder trained with early
stopping: per model, mean ± standard deviation over seeds of each test metric at the best
validation epoch, the epochs trained, and the paired difference from ``--reference`` (same
seed, same test images) with its standard error over seeds.

    python bench/converged_summary.py OUT [--reference vae] [--out-file FILE.md]
"""

from __future__ import annotations

import argparse
import json
import statistics as st
from pathlib import Path

from paper_table import epochs_trained

KEYS = [("nll_ais_bpd", "AIS NLL, bits/dim", 3), ("bdmc_gap_nats", "BDMC gap, nats/image", 1),
        ("mse_per_pixel_01", "MSE per pixel [0, 1]", 4), ("probe_accuracy", "probe accuracy", 3),
        ("fd_classifier", "FD-classifier", 1)]


def run_record(run: Path) -> dict[str, float]:
    """A run's test metrics (results.json at its best checkpoint) and its epochs."""
    results = json.loads((run / "results.json").read_text())
    out = {k: v["value"] for k, v in results["metrics"].items()}
    out |= {"best_epoch": results.get("epoch")} | epochs_trained(run / "metrics.jsonl")
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()
               if line.strip()]
    out["train_s"] = max(r["train_seconds"] for r in records if r.get("split") == "test")
    return out


def cell(values: list[float], digits: int) -> str:
    if not values:
        return "–"
    sd = st.stdev(values) if len(values) > 1 else float("nan")
    return f"{st.mean(values):.{digits}f} ± {sd:.{digits}f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("out")
    ap.add_argument("--reference", default="vae")
    ap.add_argument("--out-file", default=None)
    args = ap.parse_args()
    runs: dict[str, dict[str, dict]] = {}
    for run in sorted(Path(args.out).glob("*-seed*")):
        if run.is_dir() and (run / "results.json").is_file():
            model, seed = run.name.rsplit("-seed", 1)
            runs.setdefault(model, {})[seed] = run_record(run)
    ref = runs.get(args.reference, {})
    header = ["model", "seeds", *(name for _, name, _ in KEYS), "best epoch (epochs run)",
              "training s", f"AIS NLL − {args.reference}, bits/dim (paired)",
              f"MSE − {args.reference} (paired)"]
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for model, seeds in runs.items():
        rs = list(seeds.values())
        cells = [model, ",".join(sorted(seeds))]
        cells += [cell([r[k] for r in rs if k in r], d) for k, _, d in KEYS]
        cells.append(", ".join(f"{r['best_epoch']} ({r['epochs_run']})" for r in rs))
        cells.append(cell([r["train_s"] for r in rs], 0))
        for key, digits in (("nll_ais_bpd", 3), ("mse_per_pixel_01", 4)):
            diffs = [seeds[s][key] - ref[s][key] for s in seeds
                     if s in ref and model != args.reference]
            if len(diffs) > 1:
                cells.append(f"{st.mean(diffs):+.{digits}f} ± "
                             f"{st.stdev(diffs) / len(diffs) ** 0.5:.{digits}f}")
            else:
                cells.append("")
        lines.append("| " + " | ".join(cells) + " |")
    table = "\n".join(lines) + "\n"
    print(table)
    if args.out_file:
        Path(args.out_file).write_text(table)


if __name__ == "__main__":
    main()
