"""A Markdown report over run directories: one table row per config, with each run's pictures.

Numbers come from each run's ``results.json`` (written by ``lae eval``) when present, else from the
last test record in ``metrics.jsonl`` (the per-epoch scores during training); the table says which.
Runs whose configs differ only in their seeds (``train.seed``, ``data.seed``) or in bookkeeping
fields (:data:`IGNORED_FOR_GROUPING`) share a row: mean ± sample std over the runs, with the
number of seeds. A row of a single run shows value ± standard error over test examples.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from pathlib import Path
from typing import Any

import yaml

from lae.distributions import build_prior
from lae.errors import ConfigError, RunDirError
from lae.eval import interpolate, probe
from lae.eval.plots import SCORE_FIELDS, read_metrics, save_nll_comparison
from lae.eval.registry import metric_of_key
from lae.eval.results import read_results
from lae.files import atomic_write, is_finite_number, refuse_existing

COMPARISON_PICTURE = "compare_nll.png"  # the test NLL of every run against epoch and time

SKIP_KEYS = {"split", "epoch", "step", "train_seconds", "estimate"}
# a per-epoch record's estimator settings (its "estimate"), and the columns that read each;
# n_examples is every column's
ESTIMATOR_OF = {"k": "nll_iwae", "ais_chains": "nll_ais", "ais_temps": "nll_ais"}
NOT_IN_TABLE = {"interp_grid_rows"}  # a count of picture rows, not a score (picture shown below)
SEED_KEYS = {("train", "seed"), ("data", "seed")}
# Fields that do not change what a run computes (or only where it runs): ignored when grouping.
IGNORED_FOR_GROUPING = SEED_KEYS | {
    ("train", k) for k in ("device", "num_threads", "progress", "tensorboard", "log_every",
                           "keep_checkpoints")} | {("data", "data_dir")}


def config_key(cfg: dict[str, Any]) -> str:
    """The config without seeds and bookkeeping fields, as canonical JSON (the grouping key)."""
    reduced = {section: ({k: v for k, v in body.items() if (section, k)
                          not in IGNORED_FOR_GROUPING} if isinstance(body, dict) else body)
               for section, body in cfg.items()}
    return json.dumps(reduced, sort_keys=True, default=str)


def seeds_of(cfg: dict[str, Any]) -> str:
    return "/".join(str(cfg.get(section, {}).get(k, "")) for section, k in sorted(SEED_KEYS))


def _latest(folder: Path, pattern: str) -> Path | None:
    found = sorted(folder.glob(pattern))
    return found[-1] if found else None


def prior_sampler_caption(cfg: dict[str, Any]) -> str:
    """How a run's samples were drawn, from its config: the prior and its sampler's settings
    (an MCMC sampler's step size is the configured start; training may adapt it)."""
    model = cfg["model"]
    name = model.get("prior", "normal")
    try:
        prior = build_prior(name, model["latent_dim"], **(model.get("prior_options") or {}))
    except ConfigError as exc:
        return f"prior {name!r} (its sampler could not be rebuilt from config.yaml: {exc})"
    description = prior.sampler_description
    how = ", ".join(f"{k} {v}" for k, v in description.items())
    configured = ("" if description["kernel"] == "exact"
                  else " (as configured; training may adapt the step size)")
    return f"decoder means of z drawn from the prior `{name}` by: {how}{configured}"


def _cell(text: str) -> str:
    """Text for a Markdown table cell: a ``|`` in it (a run folder's name) would end the cell."""
    return str(text).replace("|", "\\|")


def summarize_run(run_dir: Path, saved_config: dict[str, Any] | None = None) -> dict[str, Any]:
    """What the report shows of one run: config highlights, numbers and picture paths.
    ``saved_config`` (its checkpoint's, which config.yaml was checked against, or config.yaml's
    own with every key filled in) is shown where given, else config.yaml as it is."""
    cfg_path = run_dir / "config.yaml"
    if not run_dir.exists():
        raise RunDirError(f"{run_dir} does not exist; expected a run folder (written by lae "
                          f"train)")
    if not run_dir.is_dir():
        raise RunDirError(f"{run_dir} is a file; expected a run folder (written by lae train)")
    if cfg_path.exists() and not cfg_path.is_file():
        raise RunDirError(f"{cfg_path} is not a file: the run's config.yaml was replaced")
    if not cfg_path.is_file() and not saved_config:
        raise RunDirError(f"{run_dir} is not a lae run directory (no config.yaml)")
    try:
        cfg = saved_config or yaml.safe_load(cfg_path.read_text())
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RunDirError(f"{cfg_path}: not a readable config ({exc})") from None
    if not isinstance(cfg, dict) or not isinstance(cfg.get("model"), dict):
        raise RunDirError(f"{cfg_path}: not a lae run config (expected a mapping with a 'model' "
                          f"section)")
    results_path = run_dir / "results.json"
    numbers: dict[str, str] = {}
    values: dict[str, float] = {}
    settings: dict[str, dict] = {}
    records_path = run_dir / "metrics.jsonl"
    records = read_metrics(records_path)  # once: it warns about a torn line
    # a score's keys are those of metrics lae writes, as in a results file
    import lae.eval.metrics  # noqa: F401 (registers the metrics and their keys)

    unknown = next(((r["epoch"], key) for r in records if r["split"] in ("test", "val")
                    for key in r if key not in SCORE_FIELDS and metric_of_key(key) is None),
                   None)
    if unknown is not None:
        raise RunDirError(f"{records_path}: a score of epoch {unknown[0]} holds {unknown[1]!r}, "
                          f"which no lae metric writes: the file was edited; restore or remove "
                          f"the record")
    tests = [r for r in records if r.get("split") == "test"]
    trained = tests[-1]["epoch"] if tests else None
    if results_path.is_file():
        results = read_results(results_path)
        source = _results_source(results, run_dir, trained)
        for key, res in results["metrics"].items():
            if key in NOT_IN_TABLE or not isinstance(res, dict) or not is_finite_number(
                    res.get("value")):
                continue
            stderr = res.get("stderr")
            numbers[key] = f"{res['value']:.4g}" + (
                f" ± {stderr:.2g}" if is_finite_number(stderr) else "")
            values[key] = float(res["value"])
            settings[key] = {**({"n": res["n"]} if "n" in res else {}),
                             **res.get("settings", {})}
    else:
        # a run with no scored epoch (stopped in its first, or its records lost) says so
        source = (f"metrics.jsonl (epoch {trained})" if tests else
                  "no scored epoch yet (metrics.jsonl has no test record; no results.json)"
                  if records_path.is_file() else "no metrics.jsonl and no results.json")
        if tests:
            values = {k: float(v) for k, v in tests[-1].items()
                      if k not in SKIP_KEYS and is_finite_number(v)}
            edited = {k: v for k, v in tests[-1].items() if k not in SKIP_KEYS | set(values)}
            if edited:  # lae writes numbers only: a hand edit, said as results.json's is
                raise RunDirError(f"{records_path}: the test record of epoch {trained} holds "
                                  f"values that are not finite numbers ("
                                  f"{', '.join(f'{k}={v!r}' for k, v in edited.items())}); "
                                  f"restore them, or score the run with lae eval")
            numbers = {k: f"{v:.4g}" for k, v in values.items()}
            # how the record estimated them, so that a column pooling these with another
            # run's results.json (or another eval size) says so (_differing_settings)
            estimate = tests[-1].get("estimate")
            estimate = estimate if isinstance(estimate, dict) else {}
            settings = {k: {"source": "metrics.jsonl per-epoch record", **{
                name: value for name, value in estimate.items()
                if name not in ESTIMATOR_OF or k.startswith(ESTIMATOR_OF[name])}}
                for k in values}
    train = [r for r in records if r.get("split") == "train"]
    # what training flagged (a stalled chain) and what the evaluation did (an AIS chain that
    # accepted nothing): the numbers of the run may be spoiled, so the report says it
    flagged = [r for r in records if r.get("split") == "warning"] or (
        results.get("training_warnings") or [] if results_path.is_file() else [])
    warned = [f"training, epoch {w.get('epoch')} step {w.get('step')}: {w.get('message')}"
              for w in flagged if isinstance(w, dict)]
    warned += [f"evaluation: {w}" for w in (results.get("warnings") or []
                                            if results_path.is_file() else [])
               if isinstance(w, str)]
    # no test record, but a finished epoch's checkpoint: the records were lost, not the epochs
    lost = not tests and (run_dir / "checkpoints" / "last.pt").is_file()
    # early stopping ended the run: its last validation record's best epoch is train.patience
    # or more epochs behind
    best = next((r["best_epoch"] for r in reversed(records)
                 if r["split"] == "val" and isinstance(r.get("best_epoch"), int)), None)
    patience = cfg["train"].get("patience") or 0
    stopped = (f" (stopped early; best epoch {best})" if patience and best and trained
               and trained < cfg["train"]["epochs"] and trained - best >= patience else "")
    return {
        "run": run_dir.name,
        "model": cfg["model"]["name"],
        # a class held out, hidden values or noise make another training set: said with the name
        "data": cfg["data"]["name"] + "".join(
            text for text, on in (
                (f" without class {cfg['data'].get('holdout_class')}",
                 cfg["data"].get("holdout_class") is not None),
                (f", masked {cfg['data'].get('mask')}", bool(cfg["data"].get("mask"))),
                (f", noise {cfg['data'].get('noise_fraction')}",
                 bool(cfg["data"].get("noise_fraction")))) if on),
        "net": cfg["model"]["net"]["arch"],
        "latent_dim": cfg["model"]["latent_dim"],
        # the epochs trained (metrics.jsonl), and the planned ones where it stopped before;
        # without its records the count is unknown, not 0
        "epochs": str(trained) if trained == cfg["train"]["epochs"] else
                  f"? of {cfg['train']['epochs']} (no metrics.jsonl)"
                  if not records_path.is_file() else
                  f"? of {cfg['train']['epochs']} (no test record in metrics.jsonl)" if lost else
                  f"{trained or 0} of {cfg['train']['epochs']}{stopped}",
        "images_per_s": f"{train[-1]['images_per_s']:.0f}" if train else "",
        "images_per_s_value": float(train[-1]["images_per_s"]) if train else None,
        "numbers": numbers,
        "values": values,
        "group": config_key(cfg),
        "seeds": seeds_of(cfg),
        "settings": settings,
        "source": source,
        "warnings": warned,
        "samples_caption": prior_sampler_caption(cfg),
        "pictures": {kind: _latest(run_dir / folder, pattern) for kind, folder, pattern in (
            ("samples", "samples", "samples_*.png"), ("reconstructions", "samples", "recon_*.png"),
            ("losses", "plots", "loss.png"), ("step_sizes", "plots", "step_sizes.png"),
            ("interpolations", ".", interpolate.PICTURE),
            ("latent_codes", ".", probe.PICTURE))},
    }


def _results_source(results: dict[str, Any], run_dir: Path, trained: int | None) -> str:
    """Where a run's numbers come from, with the evaluated epoch, and what does not match: a
    results.json of an older epoch than the run trained to, of another split than the test
    split, or written for another folder."""
    epoch = results.get("epoch")
    if epoch is None:
        return "results.json"
    source = f"results.json (epoch {epoch}"
    if results.get("split") not in (None, "test"):
        source += f"; the {results['split']} split, not the test split"
    if trained is not None and epoch > trained:
        raise RunDirError(f"{run_dir / 'results.json'}: its epoch {epoch} is past the run's "
                          f"last ({trained}): the file was edited; score the run again with lae "
                          f"eval {run_dir} --overwrite")
    if trained is not None and epoch != trained:
        source += f"; the run trained to epoch {trained}"
    evaluated = results.get("run_dir")
    if evaluated and Path(evaluated).name != run_dir.name:
        source += f"; evaluated as {evaluated}"
    return source + ")"


def _labels(run_dirs: list[Path]) -> list[str]:
    """A distinct label per run: its folder name, with as many parent folders as it takes to
    tell runs of the same name apart (``s0/vae``, ``s1/vae``)."""
    parts = [Path(r).resolve().parts for r in run_dirs]
    depth = 1
    while True:
        labels = ["/".join(p[-depth:]) for p in parts]
        if len(set(labels)) == len(labels) or depth >= max(len(p) for p in parts):
            return labels
        depth += 1


def _mean_std(xs: list[float]) -> tuple[float, float]:
    mean = sum(xs) / len(xs)
    return mean, math.sqrt(sum((x - mean) ** 2 for x in xs) / (len(xs) - 1))


def group_runs(runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per config (seeds aside), in order of first appearance: a single run's row shows
    its own numbers; a group's shows mean ± std (ddof 1) over its runs of each metric, the runs
    that lack a metric left out (the cell says n=... when not all runs have it)."""
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in runs:  # a second run of the same seeds is not another seed: a row of its own
        key = r["group"]
        while any(m["seeds"] == r["seeds"] for m in groups.get(key, [])):
            key += "+"
        groups.setdefault(key, []).append(r)
    rows = []
    for members in groups.values():
        first = members[0]
        row = {k: first[k] for k in ("model", "data", "net", "latent_dim")}
        row["epochs"] = ", ".join(dict.fromkeys(m["epochs"] for m in members))
        row["run"] = ", ".join(m["run"] for m in members)
        row["seeds"] = str(len(members))
        row["source"] = ", ".join(sorted({m["source"] for m in members}))
        if len(members) == 1:
            row["numbers"] = dict(first["numbers"])
            row["images_per_s"] = first["images_per_s"]
        else:
            row["numbers"] = {}
            for key in sorted({k for m in members for k in m["values"]}):
                xs = [m["values"][key] for m in members if key in m["values"]]
                if len(xs) == 1:
                    row["numbers"][key] = f"{xs[0]:.4g} (n=1)"
                    continue
                mean, std = _mean_std(xs)
                extra = "" if len(xs) == len(members) else f" (n={len(xs)})"
                row["numbers"][key] = f"{mean:.4g} ± {std:.2g}{extra}"
            speeds = [m["images_per_s_value"] for m in members
                      if m["images_per_s_value"] is not None]
            row["images_per_s"] = f"{sum(speeds) / len(speeds):.0f}" if speeds else ""
        rows.append(row)
    return rows


def write_report(run_dirs: list[Path], out_dir: Path,
                 saved_configs: dict[Path, dict[str, Any] | None] | None = None,
                 overwrite: bool = False) -> Path:
    """Write ``out_dir/report.md`` (and copies of the pictures) for the given runs;
    ``saved_configs`` (run -> its checkpoint's config) stand in for removed config.yaml files.
    Every file it would write is refused first if it exists, unless ``overwrite``: the folder
    may hold the user's own pictures under the same names."""
    runs = [summarize_run(Path(r), (saved_configs or {}).get(Path(r))) for r in run_dirs]
    for run, label in zip(runs, _labels(run_dirs)):
        run["run"] = label
    named: dict[str, str] = {}  # picture name -> the run it is of
    for r in runs:
        other = named.setdefault(_picture_name(r["run"], ""), r["run"])
        if other != r["run"]:  # one file for both: one run's row would show the other's
            raise ConfigError(f"runs {other!r} and {r['run']!r} give their pictures the same "
                              f"file names ({_picture_name(r['run'], 'samples')}, ...); rename "
                              f"one folder so that they differ in a letter or digit")
    refuse_existing([out_dir / "report.md", out_dir / COMPARISON_PICTURE, *(
        out_dir / _picture_name(r["run"], kind) for r in runs
        for kind, pic in r["pictures"].items() if pic is not None)], overwrite)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = group_runs(runs)
    metric_keys = sorted({k for r in rows for k in r["numbers"]})
    head = ["run", "model", "data", "net", "latent_dim", "epochs", "images_per_s", "seeds"]
    lines = ["# lae report", "",
             "Log-likelihoods are per example in nats (`_nats`) or bits per dimension (`_bpd`); "
             "`mse_per_pixel_01` is on the [0, 1] pixel scale. Lower is better for all three. "
             "**`nll_ais` is the column that compares models**: annealed importance sampling "
             "scores every model through its prior and decoder alone. `nll_iwae` and `neg_elbo` "
             "are upper bounds on the NLL through each model's own proposal q(z|x) (a VAE's "
             "learned q; the LAE's hand-set N(Phi g(x), 0.05^2 I)), so a gap between two models "
             "there can be a gap between their proposals.", "",
             "| " + " | ".join(head + metric_keys + ["source"]) + " |",
             "|" + "---|" * (len(head) + len(metric_keys) + 1)]
    for r in rows:
        cells = [str(r[h]) for h in head] + [r["numbers"].get(k, "") for k in metric_keys]
        lines.append("| " + " | ".join(_cell(c) for c in cells + [r["source"]]) + " |")
    lines.append("")
    lines += ["In a row of one run (seeds = 1), ± is the standard error over test examples; in a "
              "row of several runs whose configs differ only in train.seed / data.seed, the cell "
              "is mean ± standard deviation over those runs (seeds = how many). "
              "`fd_classifier` is the FD-classifier (a Fréchet distance in the features of a "
              "classifier trained on the same dataset; not FID), lower is better; "
              "`probe_accuracy` is the linear-probe test accuracy of latent codes.", ""]
    warned = [f"- {_cell(r['run'])}: {_cell(w)}" for r in runs for w in r["warnings"]]
    if warned:
        lines += ["**Warnings: the numbers of these runs may be spoiled**", "", *warned, ""]
    lines += _differing_settings(runs, metric_keys)
    lines += _comparison(runs, run_dirs, out_dir)
    for r in runs:
        pics = [(kind, p) for kind, p in r["pictures"].items() if p is not None]
        lines += [f"## {r['run']}", "", f"seeds (data/train): {r['seeds']}", ""]
        for key, value in r["settings"].items():
            lines.append(f"- `{key}`: " + ", ".join(f"{k} = {v}" for k, v in value.items()))
        lines.append("")
        for kind, pic in pics:
            name = _picture_name(r["run"], kind)
            shutil.copyfile(pic, out_dir / name)
            lines.append(f"{kind}: ![{kind}]({name})")
            if kind == "samples":
                lines += ["", f"({r['samples_caption']})"]
            lines.append("")
    path = out_dir / "report.md"
    text = "\n".join(lines).encode()
    atomic_write(path, lambda f: f.write(text))  # a full disk leaves the old report, not half
    return path


def _differing_settings(runs: list[dict[str, Any]], metric_keys: list[str]) -> list[str]:
    """A warning under the table for each metric the runs scored with different settings (the
    examples, the seed, the estimator's), naming each run's: a column of numbers that do not
    compare like for like must say so."""
    lines = []
    for key in metric_keys:
        scored = {r["run"]: r["settings"][key] for r in runs if key in r["settings"]}
        if len({json.dumps(v, sort_keys=True, default=str) for v in scored.values()}) > 1:
            lines.append(f"**`{key}` was scored with different settings**: " + "; ".join(
                f"{_cell(run)}: " + ", ".join(f"{k} = {v}" for k, v in sorted(value.items()))
                for run, value in scored.items()) + ".")
    return lines + [""] if lines else []


def _picture_name(label: str, kind: str) -> str:
    """The file name of a run's picture in the report folder: the run's label with every
    character but letters, digits, '.', '-' and '_' replaced by '_' (a space, '|' or ')' would
    break the Markdown link or table)."""
    return re.sub(r"[^\w.-]", "_", label) + f"_{kind}.png"


def _comparison(runs: list[dict[str, Any]], run_dirs: list[Path], out_dir: Path) -> list[str]:
    """The section a researcher looks at first: test NLL of every run on shared axes (against
    the epoch and the training wall-clock), and the runs' samples and reconstructions side by
    side."""
    lines = ["## Comparison", ""]
    key = save_nll_comparison({r["run"]: Path(d) for r, d in zip(runs, run_dirs)},
                              out_dir / COMPARISON_PICTURE)
    if key is not None:
        caveat = ("" if key.startswith("nll_ais") else
                  " (no run logged a per-epoch AIS NLL, `train.eval_ais_temps`; this IWAE bound "
                  "goes through each model's own proposal, so it compares proposals as much "
                  "as models)")
        lines += [f"Test `{key}` after each epoch, against the epoch and against the training "
                  f"wall-clock (evaluation excluded; the machine and its load set the time "
                  f"axis){caveat}:", "", f"![test NLL]({COMPARISON_PICTURE})", ""]
    kinds = [k for k in ("samples", "reconstructions")
             if any(r["pictures"].get(k) for r in runs)]
    if kinds:
        lines += ["| run | " + " | ".join(kinds) + " |", "|---|" + "---|" * len(kinds)]
        for r in runs:
            cells = [f"![{k}]({_picture_name(r['run'], k)})" if r["pictures"].get(k) else ""
                     for k in kinds]
            lines.append(f"| {_cell(r['run'])} | " + " | ".join(cells) + " |")
        lines.append("")
    return lines
