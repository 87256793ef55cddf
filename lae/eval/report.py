"""A Markdown report over run directories: one table row per run, with its pictures.

Numbers come from each run's ``results.json`` (written by ``lae eval``) when present, else from the
last test record in ``metrics.jsonl`` (the per-epoch scores during training); the table says which.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import yaml

from lae.errors import RunDirError
from lae.eval.plots import read_metrics

SKIP_KEYS = {"split", "epoch", "step"}


def _latest(folder: Path, pattern: str) -> Path | None:
    found = sorted(folder.glob(pattern))
    return found[-1] if found else None


def summarize_run(run_dir: Path) -> dict[str, Any]:
    """What the report shows of one run: config highlights, numbers and picture paths."""
    cfg_path = run_dir / "config.yaml"
    if not cfg_path.is_file():
        raise RunDirError(f"{run_dir} is not a lae run directory (no config.yaml)")
    cfg = yaml.safe_load(cfg_path.read_text())
    results_path = run_dir / "results.json"
    numbers: dict[str, str] = {}
    settings: dict[str, dict] = {}
    if results_path.is_file():
        source = "results.json"
        for key, res in json.loads(results_path.read_text())["metrics"].items():
            numbers[key] = f"{res['value']:.4g} ± {res['stderr']:.2g}"
            settings[key] = res["settings"]
    else:
        source = "metrics.jsonl (last epoch)"
        tests = [r for r in read_metrics(run_dir / "metrics.jsonl") if r.get("split") == "test"]
        if tests:
            numbers = {k: f"{v:.4g}" for k, v in tests[-1].items() if k not in SKIP_KEYS}
    train = [r for r in read_metrics(run_dir / "metrics.jsonl") if r.get("split") == "train"]
    return {
        "run": run_dir.name,
        "model": cfg["model"]["name"],
        "data": cfg["data"]["name"],
        "net": cfg["model"]["net"]["arch"],
        "latent_dim": cfg["model"]["latent_dim"],
        "epochs": cfg["train"]["epochs"],
        "images_per_s": f"{train[-1]['images_per_s']:.0f}" if train else "",
        "numbers": numbers,
        "settings": settings,
        "source": source,
        "pictures": {kind: _latest(run_dir / folder, pattern) for kind, folder, pattern in (
            ("samples", "samples", "samples_*.png"), ("reconstructions", "samples", "recon_*.png"),
            ("losses", "plots", "loss.png"))},
    }


def write_report(run_dirs: list[Path], out_dir: Path) -> Path:
    """Write ``out_dir/report.md`` (and copies of the pictures) for the given runs."""
    runs = [summarize_run(Path(r)) for r in run_dirs]
    out_dir.mkdir(parents=True, exist_ok=True)
    metric_keys = sorted({k for r in runs for k in r["numbers"]})
    head = ["run", "model", "data", "net", "latent_dim", "epochs", "images_per_s"]
    lines = ["# lae report", "",
             "Log-likelihoods are per example in nats (`_nats`) or bits per dimension (`_bpd`); "
             "`mse_per_pixel_01` is on the [0, 1] pixel scale. `nll_iwae` and `neg_elbo` are "
             "upper bounds on the negative log-likelihood (lower is better).", "",
             "| " + " | ".join(head + metric_keys + ["source"]) + " |",
             "|" + "---|" * (len(head) + len(metric_keys) + 1)]
    for r in runs:
        cells = [str(r[h]) for h in head] + [r["numbers"].get(k, "") for k in metric_keys]
        lines.append("| " + " | ".join(cells + [r["source"]]) + " |")
    lines.append("")
    lines += ["± is the standard error over test examples.", ""]
    for r in runs:
        pics = [(kind, p) for kind, p in r["pictures"].items() if p is not None]
        lines += [f"## {r['run']}", ""]
        for key, value in r["settings"].items():
            lines.append(f"- `{key}`: " + ", ".join(f"{k} = {v}" for k, v in value.items()))
        lines.append("")
        for kind, pic in pics:
            name = f"{r['run']}_{kind}.png"
            shutil.copyfile(pic, out_dir / name)
            lines.append(f"{kind}: ![{kind}]({name})")
            lines.append("")
    path = out_dir / "report.md"
    path.write_text("\n".join(lines))
    return path
