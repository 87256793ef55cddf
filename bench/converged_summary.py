"""The converged comparison's table from ``bench/paper_table.py`` folders trained with early
stopping: per model, mean ± standard deviation over seeds of each test metric at the best
validation epoch, the epochs trained, and the paired difference from ``--reference`` (same
seed, same test images) with its standard error over seeds. A model found in several folders
is labelled with its folder; a column no run has is left out. The reconstruction columns are
one per protocol the runs were scored under (``lae eval --mse-inference``: ``infer``, the
model's own inference; ``mode``; ``noise-free``).

    python bench/converged_summary.py OUT [OUT ...] [--reference vae] [--out-file FILE.md]
"""

from __future__ import annotations

import argparse
import json
import statistics as st
from pathlib import Path

from paper_table import epochs_trained

KEYS = [("nll_ais_bpd", "AIS NLL, bits/dim", 3), ("bdmc_gap_nats", "BDMC gap, nats/image", 1),
        ("mse_per_pixel_01", "MSE per pixel [0, 1], infer(x)", 4),
        ("mse_mode_per_pixel_01", "MSE per pixel [0, 1], mode", 4),
        ("mse_noise_free_per_pixel_01", "MSE per pixel [0, 1], noise-free from the prior", 4),
        ("probe_accuracy", "probe accuracy", 3), ("fd_classifier", "FD-classifier", 1)]
PAIRED = [("nll_ais_bpd", "AIS NLL", 3), ("mse_per_pixel_01", "MSE infer(x)", 4),
          ("mse_mode_per_pixel_01", "MSE mode", 4),
          ("mse_noise_free_per_pixel_01", "MSE noise-free", 4)]


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
    ap.add_argument("out", nargs="+")
    ap.add_argument("--reference", default="vae")
    ap.add_argument("--out-file", default=None)
    args = ap.parse_args()
    found: list[tuple[str, str, str, dict]] = []  # (model, folder, seed, record)
    for out in args.out:
        for run in sorted(Path(out).glob("*-seed*")):
            if run.is_dir() and (run / "results.json").is_file():
                model, seed = run.name.rsplit("-seed", 1)
                found.append((model, Path(out).name, seed, run_record(run)))
    folders: dict[str, set[str]] = {}
    for model, folder, _, _ in found:
        folders.setdefault(model, set()).add(folder)
    runs: dict[str, dict[str, dict]] = {}
    for model, folder, seed, record in found:
        label = model if len(folders[model]) == 1 else f"{model} ({folder})"
        runs.setdefault(label, {})[seed] = record
    ref = runs.get(args.reference) or next(
        (v for k, v in runs.items() if k.startswith(f"{args.reference} (")), {})
    keys = [k for k in KEYS if any(k[0] in r for seeds in runs.values() for r in seeds.values())]
    paired = [p for p in PAIRED if any(p[0] == k[0] for k in keys)]
    header = ["model", "seeds", *(name for _, name, _ in keys), "best epoch (epochs run)",
              "training s", *(f"{name} − {args.reference} (paired)" for _, name, _ in paired)]
    lines = ["| " + " | ".join(header) + " |", "|---" * len(header) + "|"]
    for model, seeds in runs.items():
        rs = list(seeds.values())
        cells = [model, ",".join(sorted(seeds))]
        cells += [cell([r[k] for r in rs if k in r], d) for k, _, d in keys]
        cells.append(", ".join(f"{r['best_epoch']} ({r['epochs_run']})" for r in rs))
        cells.append(cell([r["train_s"] for r in rs], 0))
        for key, _, digits in paired:
            diffs = [seeds[s][key] - ref[s][key] for s in seeds
                     if s in ref and seeds is not ref and key in seeds[s] and key in ref[s]]
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
