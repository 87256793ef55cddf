"""The ``lae`` command: train, sample, eval, report, list, bench.

    lae train PRESET_OR_YAML [--section.key=value ...] --out RUN_DIR [--resume | --overwrite]
    lae sample RUN_DIR -n 64 --out grid.png
    lae eval RUN_DIR [--metrics elbo,iwae,mse] [--out results.json]
    lae report RUN_DIR [RUN_DIR ...] --out DIR
    lae anomaly RUN_DIR [--score log-joint|refined|nll-iwae|nll-ais]   (docs/tasks.md)
    lae inpaint RUN_DIR [--mask centre|bottom|pixels:P|patches:S:P] [--steps 100]
    lae list
    lae config PRESET_OR_YAML [--section.key=value ...]   (the resolved config, every key)
    lae bench --out DIR [--models vae,lae,...] [--size tiny|small|default] [--threads 1]
        (docs/bench.md)
    lae toy {posterior,neural,energy,capacity,convergence,likelihood,shortrun,ebm-logz} ...
        (docs/toys.md)

Expected errors (bad keys, missing data, an existing run directory) print one line, ``error: ...``,
and exit with status 2; no traceback.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shlex
import shutil
import signal
import sys
import textwrap
from pathlib import Path
from typing import Any

from lae.errors import ConfigError, LaeError
from lae.eval.json import json_safe
from lae.files import atomic_write, check_writable
from lae.toy.cli import add_toy_commands

# what lae sample can write (matplotlib's imsave / savefig formats lae tests)
PICTURE_SUFFIXES = (".png", ".jpg", ".jpeg", ".pdf", ".svg")
# lae sample keeps its draws in memory: more pictures than this is a mistyped -n
MAX_SAMPLE_VALUES = 2**28


def _refuse_existing(path: Path, overwrite: bool) -> None:
    if path.exists() and not overwrite:
        raise LaeError(f"{path} exists; pass --overwrite to replace it")


def cmd_train(args: argparse.Namespace, overrides: list[str]) -> int:
    from lae.train import Trainer, load_config
    from lae.train.checkpoint import find_checkpoint, load_checkpoint
    from lae.train.config import config_from_dict, merge, parse_overrides, read_yaml

    run_dir = Path(args.out)
    if args.nproc > 1 and "WORLD_SIZE" not in os.environ:  # start the processes here
        return _train_on_local_processes(args.nproc, args.argv)
    if args.data_dir is not None:
        overrides.append(f"data.data_dir={args.data_dir}")
    if args.download:
        overrides.append("data.download=true")
    if args.resume:
        # The run's own config, with any overrides (for example more train.epochs).
        path = run_dir / "config.yaml"
        raw = read_yaml(path, allow_empty=True) if path.is_file() else {}
        if not raw:  # missing or emptied: the checkpoint holds the run's config
            raw = load_checkpoint(find_checkpoint(run_dir, "last")).get("config", {})
        cfg = config_from_dict(merge(raw, parse_overrides(overrides)))
    else:
        cfg = load_config(args.config, overrides)
    trainer = Trainer(cfg, run_dir, resume=args.resume, overwrite=args.overwrite)
    summary = trainer.fit()
    if trainer.procs.is_main:
        print(json.dumps({"run_dir": str(run_dir), "last_test": summary}, indent=2))
    return 0


def _train_on_local_processes(nproc: int, argv: list[str]) -> int:
    """``lae train --nproc N``: the same command in N processes on this machine, as torchrun
    would start them; when one fails the others are stopped and its exit status is returned."""
    import torch.multiprocessing as mp

    from lae.train.distributed import run_local_processes

    try:
        run_local_processes(main, nproc, argv)
    except mp.ProcessExitedException as exc:  # the process printed its own error
        return exc.exit_code if exc.exit_code and exc.exit_code > 0 else 1
    except mp.ProcessRaisedException as exc:
        print(f"error: a training process failed; its traceback:\n{exc}", file=sys.stderr)
        return 1
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    from lae.eval.plots import save_model_samples
    from lae.train import load_run

    out = Path(args.out)
    if out.suffix.lower() not in PICTURE_SUFFIXES:
        raise ConfigError(f"--out {out}: expected a picture file ending in "
                          f"{', '.join(PICTURE_SUFFIXES)}")
    if args.n < 1:
        raise ConfigError(f"-n must be >= 1, got {args.n}")
    _refuse_existing(out, args.overwrite)
    run = load_run(args.run_dir, args.checkpoint)
    if args.n * run.model.spec.n_dims > MAX_SAMPLE_VALUES:
        raise ConfigError(f"-n {args.n}: {args.n} samples of {run.model.spec.n_dims} values "
                          f"would not fit in memory; draw at most "
                          f"{MAX_SAMPLE_VALUES // run.model.spec.n_dims:,}")
    save_model_samples(run.model, args.n, out, seed=args.seed)
    print(f"wrote {args.n} samples of {run.run_dir} (epoch {run.epoch}) to {out}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    from lae.data import evenly_spaced, load_dataset
    from lae.eval.metrics import METRICS, evaluate, settings_from_arguments
    from lae.eval.plots import read_metrics
    from lae.eval.results import merge_results, read_results
    from lae.train import load_run

    if args.n_examples < 0:
        raise ConfigError(f"--n-examples must be >= 0 (0: all), got {args.n_examples}")
    names = [m.strip() for m in args.metrics.split(",") if m.strip()]
    unknown = [n for n in names if n not in METRICS]
    if not names or unknown:
        what = f"unknown metric(s) {unknown}" if unknown else "no metric named"
        raise ConfigError(f"--metrics: {what}; choices: {', '.join(sorted(METRICS))}")
    settings = settings_from_arguments(args)  # bad settings fail before any work
    run = load_run(args.run_dir, args.checkpoint)
    _refuse_foreign_checkpoint(run, args.out)
    model_overrides = _evaluation_overrides(run, args.set)
    out = Path(args.out) if args.out else run.run_dir / "results.json"
    _refuse_existing(out, args.overwrite or args.out is None)
    try:  # a folder the results cannot be written to fails now, not after the metrics
        check_writable(out.parent)
    except OSError as exc:
        raise LaeError(f"cannot write the results to {out}: {exc.strerror or exc}") from None
    data_cfg = run.config.data
    if args.data_dir is not None:
        data_cfg.data_dir = args.data_dir
    splits = load_dataset(data_cfg)
    x = splits.test if args.split == "test" else splits.val
    if x is None:
        raise ConfigError("--split val: this run has no validation split (data.val_size is 0)")
    labels = splits.test_labels if args.split == "test" else splits.val_labels
    if tuple(x.shape[1:]) != tuple(run.model.spec.shape):
        raise ConfigError(f"the data of {run.run_dir} ({data_cfg.name}) now have shape "
                          f"{tuple(x.shape[1:])} per example, but the model was trained on "
                          f"{tuple(run.model.spec.shape)}: the dataset changed since training")
    x = evenly_spaced(x, args.n_examples)
    y = None if labels is None else evenly_spaced(labels, args.n_examples)
    # Training data and labels for the metrics that need them (fd, probe); pictures (interp)
    # go next to the results file.
    results = evaluate(run.model, x, names, settings, train=(splits.train, splits.train_labels),
                       test_labels=y, out_dir=out.parent)
    # What the trainer flagged (a chain that stalled, with train.on_stall=warn) travels with
    # the numbers it may have spoiled.
    flagged = [{k: r[k] for k in ("epoch", "step", "kind", "message") if k in r}
               for r in read_metrics(run.run_dir / "metrics.jsonl") if r.get("split") == "warning"]
    results = {"run_dir": str(run.run_dir), "checkpoint": str(run.checkpoint_path),
               "epoch": run.epoch, "dataset": data_cfg.name, "split": args.split,
               "training_warnings": flagged, **results}
    for res in results["metrics"].values() if model_overrides else ():
        res["settings"]["model_overrides"] = model_overrides  # each number says how it was made
    if out.exists() and not args.overwrite:  # the default results.json: add to what it holds
        results = merge_results(read_results(out), results, names)
    atomic_write(out, lambda f: f.write(json.dumps(json_safe(results), indent=2).encode()))
    for key, res in results["metrics"].items():
        print(f"{key:>22}: {res['value']:.4f} ± {res['stderr']:.4f}  (n={res['n']}, "
              f"{res['settings']})")
    for name, why in results["skipped"].items():
        print(f"{name:>22}: skipped: {why}")
    for warning in flagged:
        print(f"WARNING (training, step {warning.get('step')}): {warning.get('message')}")
    print(f"wrote {out}")
    return 0


def _refuse_foreign_checkpoint(run: Any, out: str | None) -> None:
    """A checkpoint from outside the run's own folder may be scored only into a file the user
    names: results written into the run folder would be another run's numbers under its name."""
    from lae.train.run import is_foreign_checkpoint

    if out is None and is_foreign_checkpoint(run):
        raise ConfigError(f"--checkpoint {run.checkpoint_path} is not one of {run.run_dir}'s "
                          "own checkpoints: its results would be filed under that run; pass "
                          "--out FILE to write them elsewhere")


def _evaluation_overrides(run: Any, items: list[str]) -> dict[str, Any]:
    """Apply ``--set model.KEY=VALUE`` items to a loaded run's model config: only keys its config
    class declares resumable (they change what evaluation runs, not what the checkpoint holds),
    checked by the config's own validation. Returns the applied {"model.KEY": value}."""
    from lae.train.config import config_from_dict, merge, parse_overrides

    if not items:
        return {}
    nested = parse_overrides(items)
    allowed = sorted(k for k in type(run.config.model).resumable if "." not in k)
    bad = [f"{section}.{key}" for section, keys in nested.items()
           for key in (keys if isinstance(keys, dict) else [None])
           if section != "model" or key not in allowed]
    if bad:
        raise ConfigError(f"--set {', '.join(bad)}: lae eval may change only the model's "
                          f"evaluation-time settings: {', '.join('model.' + k for k in allowed)}")
    raw = merge(run.config.to_dict(), nested)
    try:
        run.model.cfg = config_from_dict(raw).model
    except ValueError as exc:
        raise ConfigError(f"--set: {exc}") from None
    return {f"model.{k}": v for k, v in nested["model"].items()}


def _run_and_test_data(args: argparse.Namespace):
    """The run, its test images (evenly spaced ``--n-examples``) on the model's device, and their
    labels, for the task commands."""
    from lae.data import evenly_spaced, load_dataset
    from lae.train import load_run

    run = load_run(args.run_dir, args.checkpoint)
    _refuse_foreign_checkpoint(run, args.out)
    splits = load_dataset(run.config.data)
    x, y = splits.test, splits.test_labels
    if tuple(x.shape[1:]) != tuple(run.model.spec.shape):
        raise ConfigError(f"the data of {run.run_dir} now have shape {tuple(x.shape[1:])} per "
                          f"example, but the model was trained on {tuple(run.model.spec.shape)}")
    x = evenly_spaced(x, args.n_examples)
    y = None if y is None else evenly_spaced(y, args.n_examples)
    device = next(run.model.parameters()).device
    return run, x.to(device), y, splits.train


def _write_task_results(out: Path, results: dict, overwrite: bool) -> None:
    _refuse_existing(out, overwrite)
    atomic_write(out, lambda f: f.write(json.dumps(json_safe(results), indent=2).encode()))
    print(json.dumps(json_safe(results), indent=2))
    print(f"wrote {out}")


def cmd_anomaly(args: argparse.Namespace) -> int:
    import torch

    from lae.tasks import anomaly_scores, detection_metrics

    run, x, y, _ = _run_and_test_data(args)
    digit = run.config.data.holdout_class
    if digit is None or y is None:
        raise ConfigError(f"{run.run_dir} was not trained with a class held out: train with "
                          f"--data.holdout_class=D (and --data.holdout_split=zenati for the "
                          f"published MNIST split) on a labelled dataset")
    out = Path(args.out) if args.out else run.run_dir / "anomaly.json"
    check_writable(out.parent)
    generator = torch.Generator(device=x.device).manual_seed(args.seed)
    scores = anomaly_scores(run.model, x, args.score, refine_steps=args.refine_steps,
                            k=args.k, generator=generator)
    metrics = detection_metrics(y == digit, scores)
    _write_task_results(out, {
        "run_dir": str(run.run_dir), "checkpoint": str(run.checkpoint_path), "epoch": run.epoch,
        "dataset": run.config.data.name, "holdout_class": digit,
        "holdout_split": run.config.data.holdout_split, "score": args.score,
        "settings": {"refine_steps": args.refine_steps, "k": args.k, "seed": args.seed,
                     "n_examples": int(x.shape[0])}, "metrics": metrics}, args.overwrite)
    return 0


def _training_images_and_masks(args: argparse.Namespace):
    """For ``lae inpaint --split train`` (recovery): the run, its training images without
    hidden values, and the masks ``data.mask`` puts on them (the run's own, or ``--mask`` for a
    run trained on clean images: the same masks for the same data.seed), evenly spaced
    ``--n-examples``."""
    import copy

    from lae.data import evenly_spaced, load_dataset
    from lae.data.masks import training_masks
    from lae.train import load_run

    run = load_run(args.run_dir, args.checkpoint)
    _refuse_foreign_checkpoint(run, args.out)
    spec = args.mask or run.config.data.mask
    if not spec:
        raise ConfigError(f"--split train: {run.run_dir} was trained on whole images; give the "
                          f"--mask whose recovery to score (e.g. the data.mask of the run to "
                          f"compare with)")
    clean_cfg = copy.deepcopy(run.config.data)
    clean_cfg.mask = ""
    train = load_dataset(clean_cfg).train
    masks = training_masks(spec, tuple(train.shape[1:]), len(train), clean_cfg.seed)
    device = next(run.model.parameters()).device
    x, mask = evenly_spaced(train, args.n_examples), evenly_spaced(masks, args.n_examples)
    return run, x.to(device), mask.to(device), train, spec


def cmd_inpaint(args: argparse.Namespace) -> int:
    import torch

    from lae.tasks import inpaint, make_mask, save_inpainting_grid

    if args.split == "train":  # recovery of the values data.mask hides from training
        run, x, mask, train, spec = _training_images_and_masks(args)
    else:
        run, x, _, train = _run_and_test_data(args)
        spec = args.mask or "centre"
        mask = make_mask(spec, tuple(x.shape[1:]), x.shape[0],
                         torch.Generator().manual_seed(args.seed)).to(x.device)
    out = Path(args.out) if args.out else run.run_dir / "inpaint"
    if out.exists() and not out.is_dir():
        raise LaeError(f"--out {out} is a file; lae inpaint writes a folder")
    check_writable(out)
    generator = torch.Generator(device=x.device).manual_seed(args.seed)
    result = inpaint(run.model, x, mask, steps=args.steps, step_size=args.step_size,
                     generator=generator)
    stem = ("train-" if args.split == "train" else "") + spec.replace(":", "_")
    picture = save_inpainting_grid(run.model, x, mask, result.filled, out / f"{stem}.png")
    n = x.shape[0]
    mse, psnr = result.mse_missing.double().cpu(), result.psnr_missing.double().cpu()
    # the baseline: every missing value filled with the training set's mean at that position
    cpu_mask = mask.cpu()
    data_spec = run.model.spec
    mean_fill = data_spec.to_unit(train.float().mean(0)).expand_as(x.cpu())
    missing = (~cpu_mask).flatten(1).double()
    err = (mean_fill - data_spec.to_unit(x.cpu())).pow(2).flatten(1).double()
    baseline = (err * missing).sum(1) / missing.sum(1).clamp_min(1)
    observed_err = (data_spec.to_unit(result.filled.cpu())
                    - data_spec.to_unit(x.cpu())).pow(2).flatten(1).double()
    _write_task_results(out / f"{stem}.json", {
        "run_dir": str(run.run_dir), "checkpoint": str(run.checkpoint_path), "epoch": run.epoch,
        "dataset": run.config.data.name, "mask": spec, "split": args.split,
        "trained_on_mask": run.config.data.mask or None,
        "missing_fraction": float((~mask).float().mean()),
        "settings": {"steps": args.steps, "step_size": args.step_size, "seed": args.seed,
                     "n_examples": n},
        "metrics": {
            "mse_missing_01": {"value": float(mse.mean()),
                               "stderr": float(mse.std() / n ** 0.5) if n > 1 else None, "n": n},
            "psnr_missing_db": {"value": float(psnr.mean()),
                                "stderr": float(psnr.std() / n ** 0.5) if n > 1 else None,
                                "n": n},
            "mse_all_01": {"value": float(observed_err.mean()), "n": n},
            "mse_observed_decoder_01": {
                "value": float(result.mse_observed.double().mean()), "n": n},
            "mean_fill_mse_missing_01": {
                "value": float(baseline.mean()),
                "stderr": float(baseline.std() / n ** 0.5) if n > 1 else None, "n": n},
            "mala_acceptance": float(result.acceptance.double().nanmean())
            if args.steps else None},
        "picture": str(picture) if picture else None}, args.overwrite)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from lae.eval.report import write_report

    if Path(args.out).exists() and not Path(args.out).is_dir():
        raise LaeError(f"--out {args.out} is a file; lae report writes a folder (report.md and "
                       f"its pictures): choose another --out")
    _refuse_existing(Path(args.out) / "report.md", args.overwrite)
    path = write_report([Path(r) for r in args.run_dirs], Path(args.out))
    print(f"wrote {path}")
    return 0


def cmd_bench(args: argparse.Namespace, command: str) -> int:
    from lae.bench.suite import run_bench

    budgets = None
    if args.budgets is not None:
        try:
            budgets = [float(b) for b in args.budgets.split(",") if b.strip()]
        except ValueError:
            raise ConfigError(f"--budgets: comma-separated seconds, e.g. 60,120; got "
                              f"{args.budgets!r}") from None
    run_bench(args.out, args.models, size=args.size, threads=args.threads, device=args.device,
              overwrite=args.overwrite, command=command, data=args.data, budgets=budgets)
    return 0


def first_sentence(text: str) -> str:
    """The first sentence of a docstring or comment block, on one line, without reST markup.

    >>> first_sentence("A ``VAE`` (see :class:`lae.models.VAE`). More.")
    'A VAE (see lae.models.VAE).'
    """
    paragraph = " ".join(text.strip().split("\n\n")[0].split())
    paragraph = re.sub(r":\w+:`~?([^`]+)`", r"\1", paragraph).replace("``", "")
    # a full stop ends the sentence, except after an abbreviation ("et al.", "e.g.")
    end = re.search(r"(?<!\bal)(?<!\be\.g)(?<!\bi\.e)(?<!\bcf)(?<!\bvs)[.!?](\s|$)",
                    paragraph)
    return paragraph[:end.end()].strip() if end else paragraph


def first_clause(text: str) -> str:
    """The first sentence up to its first colon or semicolon (a preset's one-line summary).

    >>> first_clause("LAE on mnist5k: the setting of vae-mnist5k-mlp; T = 2.")
    'LAE on mnist5k'
    """
    return re.split(r"[:;] ", first_sentence(text), maxsplit=1)[0].rstrip(".")


def _print_table(title: str, rows: list[tuple[str, str]]) -> None:
    """``title:`` then one name per row with its description wrapped under it."""
    width = max(60, shutil.get_terminal_size((100, 20)).columns)
    column = max(len(name) for name, _ in rows) + 1
    print(f"{title}:")
    for name, desc in rows:
        lines = textwrap.wrap(desc, max(30, width - column - 3)) or [""]
        print(f"  {name:<{column}} {lines[0]}")
        for line in lines[1:]:
            print(f"  {'':<{column}} {line}")


def cmd_list(args: argparse.Namespace) -> int:
    from lae.data import list_datasets
    from lae.eval.metrics import METRICS
    from lae.models import MODELS
    from lae.train import list_presets
    from lae.train.config import preset_description

    _print_table("datasets", list_datasets())
    _print_table("models", [(name, first_sentence(cls.__doc__ or ""))
                            for name, cls in sorted(MODELS.items())])
    _print_table("metrics", [(name, desc) for name, (_, desc) in sorted(METRICS.items())])
    _print_table("presets (lae config PRESET prints every key)",
                 [(name, first_clause(preset_description(name))) for name in list_presets()])
    return 0


def cmd_config(args: argparse.Namespace, overrides: list[str]) -> int:
    import yaml

    from lae.train import load_config

    cfg = load_config(args.config, overrides)
    print(yaml.safe_dump(cfg.to_dict(), sort_keys=False), end="")
    return 0


def count(minimum: int, maximum: int | None = None, what: str = ""):
    """An argparse type: an integer in [minimum, maximum], else an error naming the range (the
    flag is named by argparse), before any work."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
        if value < minimum or (maximum is not None and value > maximum):
            top = f" and <= {maximum}{what}" if maximum is not None else ""
            raise argparse.ArgumentTypeError(f"expected an integer >= {minimum}{top}, got "
                                             f"{value}")
        return value
    return parse


def positive_number(text: str) -> float:
    """An argparse type: a finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a finite number > 0, got {text}")
    return value


def _task_arguments(p: argparse.ArgumentParser, n_examples: int, out: str) -> None:
    """The options lae anomaly and lae inpaint share."""
    p.add_argument("--n-examples", type=count(0), default=n_examples,
                   help=f"N evenly spaced images (0: all; default {n_examples})")
    p.add_argument("--checkpoint", default="last",
                   help="last, best (train.patience), an epoch number, or a .pt path")
    p.add_argument("--seed", type=int, default=0, help="seed of the task's random draws "
                                                       "(default 0)")
    p.add_argument("--out", default=None, help=out)
    p.add_argument("--overwrite", action="store_true", help="replace existing results")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lae", description="Train, sample, evaluate and compare deep latent variable "
        "models whose inference runs on Langevin dynamics (train, sample, eval, report, "
        "anomaly, inpaint, list, config, bench, toy; docs/cli.md).")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train a model from a preset or YAML file",
                       description="Train. Any config key can be overridden as "
                                   "--section.key=value, e.g. --train.epochs=5 "
                                   "--model.latent_dim=8.")
    p.add_argument("config", help="preset name (see `lae list`) or path to a YAML file; "
                                  "ignored with --resume")
    p.add_argument("--out", required=True, help="run directory to create")
    p.add_argument("--resume", action="store_true", help="continue the run in --out")
    p.add_argument("--overwrite", action="store_true", help="replace an existing run in --out")
    p.add_argument("--data-dir", default=None, help="where the dataset files are (or go)")
    p.add_argument("--download", action="store_true", help="download the dataset if missing")
    p.add_argument("--nproc", type=count(1, os.cpu_count() or 1,
                                         " (this machine's CPU cores)"), default=1,
                   help="train on this many processes on this machine (gloo on the CPU, one GPU "
                        "each with CUDA); train.batch_size is per process (docs/distributed.md)")

    p = sub.add_parser("sample", help="draw samples from a trained model as a PNG grid")
    p.add_argument("run_dir", help="a run folder written by lae train")
    p.add_argument("-n", type=count(1), default=64, help="number of samples (default 64)")
    p.add_argument("--out", required=True, help="the PNG file to write")
    p.add_argument("--checkpoint", default="last",
                   help="last, best (train.patience), an epoch number, or a .pt path")
    p.add_argument("--seed", type=int, default=0, help="seed of the prior draws (default 0)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing --out file")

    from lae.eval.metrics import METRICS, add_settings_arguments

    p = sub.add_parser("eval", help="score a trained model on its test split")
    p.add_argument("run_dir", help="a run folder written by lae train")
    p.add_argument("--out", default=None,
                   help="results JSON (default RUN_DIR/results.json, to which metrics are added)")
    p.add_argument("--metrics", default="elbo,iwae,mse",
                   help=f"comma-separated: {', '.join(sorted(METRICS))} (lae list describes "
                        f"them; default elbo,iwae,mse)")
    p.add_argument("--n-examples", type=int, default=0,
                   help="N evenly spaced test examples (0: all)")
    p.add_argument("--split", choices=["test", "val"], default="test",
                   help="the split to score (default test)")
    p.add_argument("--checkpoint", default="last",
                   help="last, best (train.patience), an epoch number, or a .pt path")
    p.add_argument("--data-dir", default=None, help="where the dataset files are")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the results file instead of adding to it")
    p.add_argument("--set", action="append", default=[], metavar="model.KEY=VALUE",
                   help="an evaluation-time setting of the model, one its config lets a "
                        "resumed run change (e.g. model.eval_inference=mala for an LAE trained "
                        "before that setting); recorded in the results (repeatable)")

    add_settings_arguments(p)  # --k, --ais-chains, --fd-samples, ...: one per EvalSettings field

    p = sub.add_parser("report", help="Markdown table and pictures for one or more runs")
    p.add_argument("run_dirs", nargs="+", help="run folders written by lae train")
    p.add_argument("--out", required=True, help="folder for report.md and its pictures")
    p.add_argument("--overwrite", action="store_true", help="replace an existing report.md")

    p = sub.add_parser("anomaly", help="anomaly detection: score the test images of a run "
                                       "trained with data.holdout_class (AUPRC, AUROC)",
                       description="Score the test split of a run trained without one class "
                                   "(data.holdout_class; data.holdout_split=zenati for the "
                                   "published MNIST split) and report AUPRC (auc(recall, "
                                   "precision) and average precision), AUROC and the chance "
                                   "AUPRC (docs/tasks.md).")
    p.add_argument("run_dir", help="a run folder written by lae train")
    from lae.tasks import SCORES

    p.add_argument("--score", choices=SCORES, default="log-joint",
                   help="log-joint: -log p(x, z) at the model's inferred z; refined: after "
                        "--refine-steps gradient steps on it; nll-iwae, nll-ais: -log p(x) "
                        "(default log-joint)")
    p.add_argument("--refine-steps", type=count(1), default=20,
                   help="noise-free gradient steps of the refined score (default 20)")
    p.add_argument("--k", type=count(1), default=100, help="importance samples of nll-iwae "
                                                      "(default 100)")
    _task_arguments(p, n_examples=0, out="results JSON (default RUN_DIR/anomaly.json)")

    from lae.tasks import MASKS

    p = sub.add_parser("inpaint", help="fill masked test images from a trained model "
                                       "(MSE and PSNR on the missing pixels, PNG grid)",
                       description="Mask the test images, infer the latents from the observed "
                                   "pixels only (the model's inference, then MALA on the "
                                   "masked posterior) and fill the missing pixels from the "
                                   "decoder (docs/tasks.md).")
    p.add_argument("run_dir", help="a run folder written by lae train")
    p.add_argument("--mask", default=None,
                   help=f"which values are missing: {', '.join(MASKS)} (default centre; with "
                        f"--split train, the run's data.mask)")
    p.add_argument("--split", choices=["test", "train"], default="test",
                   help="test images, or the training images with the masks data.mask puts on "
                        "them: the recovery of what a run trained on corrupted data never saw "
                        "(default test)")
    p.add_argument("--steps", type=count(0), default=100,
                   help="MALA transitions on the masked posterior (default 100; 0: the model's "
                        "inference alone)")
    p.add_argument("--step-size", type=positive_number, default=0.01,
                   help="initial MALA step size, adapted per image (default 0.01)")
    _task_arguments(p, n_examples=100,
                    out="folder for MASK.json and MASK.png (default RUN_DIR/inpaint)")

    sub.add_parser("list", help="datasets, models, metrics and presets")
    p = sub.add_parser("config", help="print a preset's resolved config: every key, with the "
                                      "model's own and their defaults",
                       description="Print the config a preset or YAML file resolves to, with "
                                   "any --section.key=value overrides applied.")
    p.add_argument("config", help="preset name (see lae list) or path to a YAML file")

    from lae.bench.sizes import BENCH_DATASETS, DEFAULT_MODELS, SIZES

    p = sub.add_parser("bench", help="benchmark suite: step time, operator counts, memory, "
                                     "evaluation throughput, quality against training time",
                       description="Run the benchmark suite on the MLP presets (MNIST-5k unless "
                                   "--data) and write DIR/bench.json, DIR/summary.md and plots "
                                   "(docs/bench.md).")
    p.add_argument("--out", required=True, help="folder for the results; must be new or empty")
    p.add_argument("--models", default=DEFAULT_MODELS,
                   help="comma-separated models, each optionally with config overrides after "
                        "'+', e.g. lae+model.mala_steps=0; the VAE (the speed baseline) is "
                        f"added when missing (default {DEFAULT_MODELS})")
    p.add_argument("--size", choices=list(SIZES), default="default",
                   help="tiny: seconds (tests); small: minutes; default: under 20 minutes on "
                        "one core (default)")
    p.add_argument("--data", choices=BENCH_DATASETS, default=BENCH_DATASETS[0],
                   help="the presets' data: each model runs <model>-<data>-mlp (default "
                        "mnist5k)")
    p.add_argument("--budgets", metavar="S,S,...",
                   help="training seconds per model at which the quality part scores it "
                        "(default: the size's)")
    p.add_argument("--threads", type=int, default=1,
                   help="torch CPU threads, train.num_threads (0: torch's default; default 1)")
    p.add_argument("--device", default="auto", help="train.device (default auto)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace lae bench's own files in a non-empty --out (others are kept)")
    add_toy_commands(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    argv = sys.argv[1:] if argv is None else list(argv)
    args, extra = parser.parse_known_args(argv)
    args.argv = argv
    if extra and args.command not in ("train", "config"):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    bad = [e for e in extra if not e.startswith("--") or "=" not in e]
    if bad:
        parser.error(f"unrecognized arguments: {' '.join(bad)} (config overrides look like "
                     "--section.key=value)")
    commands = {"train": lambda: cmd_train(args, list(extra)), "sample": lambda: cmd_sample(args),
                "eval": lambda: cmd_eval(args), "report": lambda: cmd_report(args),
                "list": lambda: cmd_list(args), "toy": lambda: args.toy_func(args),
                "config": lambda: cmd_config(args, list(extra)),
                "anomaly": lambda: cmd_anomaly(args), "inpaint": lambda: cmd_inpaint(args),
                "bench": lambda: cmd_bench(args, shlex.join(["lae", *argv]))}
    if args.command == "train":  # a job scheduler's stop is a Ctrl-C: same message, same resume
        signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
    try:
        return commands[args.command]()
    except LaeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:  # a full disk, a read-only folder: the system's words, no traceback
        where = f"{exc.filename}: " if exc.filename else ""
        hint = ("; the last checkpoint is kept: continue with --resume once this is fixed"
                if args.command == "train" else "")
        print(f"error: {where}{exc.strerror or exc}{hint}", file=sys.stderr)
        return 2
    except (MemoryError, RuntimeError) as exc:
        if not isinstance(exc, MemoryError) and not _is_out_of_memory(exc):
            raise
        print(f"error: out of memory ({str(exc).splitlines()[0][:200] if str(exc) else exc!r}); "
              f"ask for smaller sizes (batch size, -n, --n-examples, model.latent_dim, "
              f"model.net.hidden)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        hint = (f"; continue from the last finished epoch with: lae train {args.config} --out "
                f"{args.out} --resume" if args.command == "train" else "")
        print(f"interrupted{hint}", file=sys.stderr)
        return 130


def _raise_keyboard_interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _is_out_of_memory(exc: RuntimeError) -> bool:
    text = str(exc).lower()
    return "out of memory" in text or "can't allocate memory" in text


if __name__ == "__main__":
    sys.exit(main())
