"""``lae eval``: score a trained model on its test, validation or training split."""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lae.argtypes import ascii_number, file_path_text, nonempty_text
from lae.commands.base import (
    Command,
    add_checkpoint_argument,
    check_output_folder,
    note_all_examples,
    refuse_another_runs_folder,
    refuse_foreign_checkpoint,
    refuse_replaced_run,
    refuse_run_files,
    run_data,
    write_json,
)
from lae.errors import ConfigError
from lae.files import refuse_existing


def add_arguments(p: argparse.ArgumentParser) -> None:
    from lae.eval.metrics import METRICS, add_settings_arguments

    p.add_argument("run_dir", type=nonempty_text, help="a run folder written by lae train")
    p.add_argument("--out", type=file_path_text, default=None,
                   help="results JSON (default RUN_DIR/results.json, to which metrics are added)")
    p.add_argument("--metrics", default="elbo,iwae,mse", type=nonempty_text,
                   help=f"comma-separated: {', '.join(sorted(METRICS))} (lae list describes "
                        f"them; default elbo,iwae,mse)")
    p.add_argument("--n-examples", type=ascii_number(int), default=0,
                   help="N evenly spaced test examples (0: all)")
    p.add_argument("--split", choices=["test", "val", "train"], default="test",
                   help="the split to score (default test; train: the images the model was "
                        "trained on, for its generalisation gap). The default results file of "
                        "val and train is RUN_DIR/results-SPLIT.json")
    add_checkpoint_argument(p)
    p.add_argument("--data-dir", default=None, type=nonempty_text,
                   help="where the dataset files are")
    p.add_argument("--data-path", default=None, type=nonempty_text, metavar="FILE.npz",
                   help="the npz dataset's file (data.path), where it is now if it moved since "
                        "training (its content's digest says whether it changed)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the results file instead of adding to it")
    p.add_argument("--set", action="append", default=[], metavar="model.KEY=VALUE",
                   help="an evaluation-time setting of the model, one its config lets a "
                        "resumed run change (e.g. model.eval_inference=mala for an LAE trained "
                        "before that setting); recorded in the results (repeatable)")
    add_settings_arguments(p)  # --k, --ais-chains, --fd-samples, ...: one per EvalSettings field


def run(args: argparse.Namespace) -> int:
    from lae.data import evenly_spaced, load_dataset
    from lae.data.config import absolute_path
    from lae.eval import interpolate, probe
    from lae.eval.metrics import METRICS, evaluate, settings_from_arguments
    from lae.eval.plots import read_metrics
    from lae.eval.registry import SIMULATING, refuse_unused_settings
    from lae.eval.results import (
        merge_results,
        read_results,
        refuse_other_results,
        results_locked,
        training_warnings,
    )
    from lae.train import load_run

    if args.n_examples < 0:
        raise ConfigError(f"--n-examples must be >= 0 (0: all), got {args.n_examples}")
    names = [m.strip() for m in args.metrics.split(",") if m.strip()]
    unknown = [n for n in names if n not in METRICS]
    if not names or unknown:
        what = f"unknown metric(s) {unknown}" if unknown else "no metric named"
        raise ConfigError(f"--metrics: {what}; choices: {', '.join(sorted(METRICS))}")
    settings = settings_from_arguments(args)  # bad settings fail before any work
    refuse_unused_settings(settings, names)
    if args.n_examples and set(names) <= SIMULATING:
        raise ConfigError(f"--n-examples: {', '.join(names)} scores --bdmc-n-sim points "
                          f"simulated from the model and reads no {args.split} example")
    run = load_run(args.run_dir, args.checkpoint)
    refuse_foreign_checkpoint(run, args.out)
    model_overrides = evaluation_overrides(run, args.set)
    out = Path(args.out) if args.out else run.run_dir / _results_name(args.split)
    named_for = {_results_name(s): s for s in ("test", "val", "train")}.get(out.name)
    if named_for not in (None, args.split) and out.parent.resolve() == run.run_dir.resolve():
        raise ConfigError(f"--out {out}: lae eval files the run's {named_for}-split results "
                          f"there, and {args.split}-split results in "
                          f"{run.run_dir / _results_name(args.split)} (leave out --out)")
    refuse_another_runs_folder(out.parent, run.run_dir)
    refuse_run_files(out, run.run_dir, tuple(_results_name(s) for s in ("test", "val", "train")))
    # --overwrite would replace a data file, a checkpoint... (a folder: refuse_existing says)
    if out.suffix.lower() != ".json" and not out.is_dir():
        raise ConfigError(f"--out {out}: the results are JSON: give a file name ending in .json")
    refuse_existing(out, args.overwrite or args.out is None)
    data_cfg = run.config.data
    identity = {"run_dir": str(run.run_dir), "checkpoint": str(run.checkpoint_path),
                "epoch": run.epoch, "dataset": data_cfg.name, "split": args.split,
                # a checkpoint from elsewhere is not this run's model: no run of it is known
                "run_id": run.run_id}
    # the default file is added to, if it holds results of the same evaluation
    earlier = read_results(out) if out.exists() and not args.overwrite else None
    if earlier is not None:
        refuse_other_results(earlier, identity, out)
    check_output_folder(out.parent, "the results")  # fails now, not after the metrics
    # pictures some metrics draw beside the results: in the run's folder they are lae's own
    # (replaced like results.json's numbers); elsewhere they may be the user's
    side_files = {"interp": interpolate.PICTURE, "probe": probe.PICTURE}
    pictures = [out.parent / side_files[n] for n in names if n in side_files]
    if out.parent.resolve() != run.run_dir.resolve():
        refuse_existing(pictures, args.overwrite)
    if args.data_dir is not None:
        data_cfg.data_dir = args.data_dir
    if args.data_path is not None:
        data_cfg.path = absolute_path(args.data_path)
    splits, changed = run_data(run, data_cfg)  # changed: said now, kept for the report
    # results of other data contents are not added to (the data file changed since)
    identity["data_digest"] = splits.digest
    if earlier is not None:
        refuse_other_results(earlier, identity, out)
    x = getattr(splits, args.split)
    if x is None:
        raise ConfigError("--split val: this run has no validation split (data.val_size is 0)")
    if args.split == "train" and run.model.spec.missing:
        raise ConfigError(f"--split train: {run.run_dir} was trained on images with hidden "
                          f"values (data.mask), which these metrics cannot score; lae inpaint "
                          f"--split train scores their recovery")
    labels = getattr(splits, f"{args.split}_labels")
    note_all_examples(args.n_examples, len(x), f"{args.split} examples of {data_cfg.name}")
    x = evenly_spaced(x, args.n_examples)
    y = None if labels is None else evenly_spaced(labels, args.n_examples)
    # Training data and labels for the metrics that need them (fd, probe): whole images, also
    # for a run trained with hidden values (data.mask), whose training split holds NaN where
    # a value is hidden; pictures (interp) go next to the results file.
    whole = splits if not data_cfg.mask or not {"fd", "probe"} & set(names) else load_dataset(
        dataclasses.replace(data_cfg, mask=""))
    with settings_read(run.model.cfg, [k.removeprefix("model.") for k in model_overrides]
                       ) as read:
        results = evaluate(run.model, x, names, settings,
                           train=(whole.train, whole.train_labels), test_labels=y,
                           out_dir=out.parent)
    unread = [key for key in model_overrides if key.removeprefix("model.") not in read]
    if unread:  # the numbers are those without it: filed with it, they would mislead
        raise ConfigError(f"--set {', '.join(unread)}: none of the metrics computed "
                          f"({', '.join(names)}) read it, so their numbers are the same "
                          f"without it; nothing was written: drop it, or add a metric that "
                          f"reads it")
    # What the trainer flagged (a chain that stalled, with train.on_stall=warn) travels with
    # the numbers it may have spoiled.
    flagged = training_warnings(read_metrics(run.run_dir / "metrics.jsonl"))
    if not results["metrics"]:  # nothing to write: every metric asked for was skipped
        raise ConfigError("no metric gave a number (nothing was written): " + "; ".join(
            f"{name}: {why}" for name, why in results["skipped"].items()))
    # an annealing chain that accepted (almost) nothing gives a number, but not an estimate
    stuck = [f"{key}: its chains accepted {value:.1%} of their proposals at the last "
             f"temperature ({name}); the estimate is the starting point's, not an AIS one: "
             f"lower --ais-step-size or keep its default" for key, res in results["metrics"].items()
             for name, value in res.get("settings", {}).items()
             if name.startswith("final_mean_acceptance") and isinstance(value, (int, float))
             and value < 0.01 and not key.endswith("_bpd")]  # the _nats twin says it once
    # a number that overflowed (a model setting far out of range) is filed as null: say so
    stuck += [f"{key}: not a finite number ({res['value']}): the model's computation "
              f"overflowed; filed as null" for key, res in results["metrics"].items()
              if isinstance(res.get("value"), float) and not math.isfinite(res["value"])]
    for warning in stuck:
        print(f"warning: {warning}", file=sys.stderr)
    results = {**identity, "training_warnings": flagged,
               "warnings": [*stuck, *([changed] if changed else [])], **results}
    for res in results["metrics"].values() if model_overrides else ():
        res["settings"]["model_overrides"] = model_overrides  # each number says how it was made
    with results_locked(out):  # another lae eval of this run may be writing: one at a time
        refuse_replaced_run(run)
        # what the file holds now: another evaluation may have added to it since it was read
        earlier = read_results(out) if out.exists() and not args.overwrite else None
        if earlier is not None:
            refuse_other_results(earlier, identity, out)
            results = merge_results(earlier, results, names)
        for key, res in results["metrics"].items():  # kept ones included: as the file has them
            print(f"{key:>22}: {_shown(res.get('value'))} ± {_shown(res.get('stderr'))}  "
                  f"(n={res.get('n')}, {res.get('settings')})")
        for name, why in results["skipped"].items():
            print(f"{name:>22}: skipped: {why}")
        for warning in flagged:
            print(f"WARNING (training, step {warning.get('step')}): {warning.get('message')}")
        write_json(out, results, echo=False)
    return 0


@contextmanager
def settings_read(cfg: Any, keys: list[str]) -> Iterator[set[str]]:
    """Within the block, ``cfg`` (a config dataclass) records which of ``keys`` the code reads
    into the yielded set: whether an evaluation-time setting took part in the numbers is seen,
    not assumed from a table that could fall behind the models."""
    read: set[str] = set()
    if not keys:
        yield read
        return
    watched, base = frozenset(keys), type(cfg)

    class Watched(base):  # type: ignore[misc, valid-type]
        def __getattribute__(self, name: str) -> Any:
            if name in watched:
                read.add(name)
            return super().__getattribute__(name)

    cfg.__class__ = Watched
    try:
        yield read
    finally:
        cfg.__class__ = base


def _results_name(split: str) -> str:
    """The file in the run folder that holds a split's results: results.json for the test
    split (the one lae report shows), results-val.json, results-train.json."""
    return "results.json" if split == "test" else f"results-{split}.json"


def _shown(number: Any) -> str:
    """A value of a results file for the screen: a number to 4 decimals, "–" for none (the
    standard error of one example: NaN when computed, null once stored)."""
    if isinstance(number, bool) or not isinstance(number, (int, float)):
        return "–" if number is None else str(number)
    return "–" if number != number else f"{number:.4f}"  # NaN is the one unequal to itself


def evaluation_overrides(run: Any, items: list[str]) -> dict[str, Any]:
    """Apply ``--set model.KEY=VALUE`` items to a loaded run's model config: only keys its config
    class declares resumable (they change what evaluation runs, not what the checkpoint holds),
    checked by the config's own validation. Returns the applied {"model.KEY": value}."""
    from lae.train.config import (
        config_from_dict,
        merge,
        parse_overrides,
        refuse_repeated_overrides,
    )

    if not items:
        return {}
    unformed = [item for item in items if "=" not in item]
    if unformed:
        raise ConfigError(f"--set {unformed[0]!r} must look like model.KEY=VALUE (for example "
                          f"--set model.eval_warmup=800)")
    refuse_repeated_overrides(items)
    nested = parse_overrides(items)
    allowed = sorted(k for k in type(run.config.model).resumable if "." not in k)
    bad = [f"{section}.{key}" if key is not None else section  # as the user wrote it
           for section, keys in nested.items()
           for key in (keys if isinstance(keys, dict) else [None])
           if section != "model" or key not in allowed]
    if bad:
        which = (f"evaluation-time settings: {', '.join('model.' + k for k in allowed)}"
                 if allowed else f"evaluation-time settings, and a {run.config.model.name!r} "
                 f"model has none")
        raise ConfigError(f"--set {', '.join(bad)}: lae eval may change only the model's {which}")
    raw = merge(run.config.to_dict(), nested)
    try:
        run.model.cfg = config_from_dict(raw).model
    except ValueError as exc:
        raise ConfigError(f"--set: {exc}") from None
    return {f"model.{k}": v for k, v in nested["model"].items()}


COMMAND = Command("eval", "score a trained model on its test split", add_arguments, run)
