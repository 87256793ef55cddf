"""``results.json``: what ``lae eval`` writes and ``lae report`` reads.

One file per run folder accumulates metrics: a later ``lae eval`` of the same checkpoint and split
adds its metrics to those already there (a metric computed again replaces its old value), so a
cheap metric run after a long AIS run does not lose the AIS numbers. Results of another
checkpoint, epoch or split are refused (:func:`refuse_other_results`) unless ``--overwrite``.
Each metric averaged over examples keeps its per-example values, so two models scored on the
same examples can be compared pairwise (:func:`paired_difference`).
"""

from __future__ import annotations

import fcntl
import json
import math
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lae.errors import RunDirError
from lae.eval.keys import bits_per_dim_problems, value_range
from lae.files import is_finite_number, is_whole_number

# what identifies the model and data a results file describes: run_id is the run's (its
# lae-run.json's), kept when the folder is moved or copied, new when it is trained over;
# data_digest that of the data's content (lae.data.DataSplits.digest), so that results of a
# data file changed since are not mixed with the earlier ones. The last two are absent from
# older results files and runs: then not compared.
IDENTITY = ("checkpoint", "epoch", "dataset", "split", "run_id", "data_digest")
OPTIONAL_IDENTITY = ("run_id", "data_digest")


def lock_path(path: Path) -> Path:
    """The lock file of the results file ``path``: ``.<name>.lock`` beside it."""
    return path.with_name(f".{path.name}.lock")


@contextmanager
def results_locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on the results file ``path`` for a read-merge-write: two ``lae
    eval`` that finish together then add their metrics one after the other, where the later
    used to replace what the earlier wrote (a ``flock`` on :func:`lock_path`, which the system
    releases however the process ends; the file stays, as the lock must be one inode)."""
    fd = os.open(lock_path(path), os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def read_results(path: Path) -> dict[str, Any]:
    """The results in ``path``; a file that is not a results object as ``lae eval`` writes it
    (:func:`results_problems`) is a :class:`lae.errors.RunDirError` naming it and what is
    wrong: an edited value is said, not shown or added to as lae's."""
    try:
        results = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunDirError(f"{path}: not a readable results file ({exc}); move it away or run "
                          f"lae eval with --overwrite") from None
    if not isinstance(results, dict) or not isinstance(results.get("metrics"), dict):
        raise RunDirError(f"{path}: not a results file of lae eval (expected a JSON object with "
                          f"a 'metrics' object); move it away or run lae eval with --overwrite")
    wrong = results_problems(results)
    if wrong:
        raise RunDirError(f"{path}: {'; '.join(wrong[:3])}{'; ...' if len(wrong) > 3 else ''}: "
                          f"not as lae eval writes it, so the file was edited; move it away or "
                          f"run lae eval with --overwrite")
    return results


SPLITS = ("train", "val", "test")
# the warnings lae eval writes beside its numbers (lae.commands.evaluate: an annealing chain
# that accepted nothing, a value that overflowed; lae.train.rundir.data_changed)
EVAL_WARNINGS = (r"\S+: its chains accepted .+ of their proposals at the last temperature .+",
                 r"\S+: not a finite number .+ filed as null",
                 r"the data of .+ changed since it was trained .+")


def results_problems(results: dict[str, Any]) -> list[str]:
    """What in a results object (with a ``metrics`` mapping) is not as ``lae eval`` writes
    it, one phrase per field: the one place where every reader (``lae report``, ``lae eval``
    adding to it, ``bench/paired.py``) checks it. lae writes a non-finite value as null, a
    standard error is never negative, each metric key is one a registered metric writes, and a
    per-example list has ``n`` values.

    Example:
        >>> results_problems({"metrics": {"mse_per_pixel_01": {"value": 0.1, "stderr": -1}}})
        ["metric 'mse_per_pixel_01': stderr -1 (expected null or a finite number >= 0)"]
    """
    import lae.eval.metrics  # noqa: F401 (registers the metrics and their keys)
    from lae.argtypes import COUNT_MAX
    from lae.eval.registry import (
        KEY_PREFIXES,
        eval_settings_problems,
        json_text,
        metric_of_key,
        setting_problems,
    )

    wrong = []
    epoch = results.get("epoch")
    if epoch is not None and not is_whole_number(epoch, 0, COUNT_MAX):
        wrong.append(f"epoch {epoch!r} (expected a whole number in 0..{COUNT_MAX})")
    if results.get("split") not in (None, *SPLITS):
        wrong.append(f"split {results['split']!r} (expected one of {', '.join(SPLITS)})")
    wrong += [f"{key} {results[key]!r} (expected text)"
              for key in ("checkpoint", "run_dir", "dataset", "run_id", "data_digest")
              if results.get(key) is not None and not isinstance(results[key], str)]
    wrong += [f"{key} is a {type(results[key]).__name__} (expected a {kind.__name__})"
              for key, kind in (("warnings", list), ("training_warnings", list),
                                ("skipped", dict), ("settings", dict))
              if key in results and not isinstance(results[key], kind)]
    # what is kept beside the numbers: text, and the settings lae eval takes
    wrong += [f"warnings holds {json_text(item)} (expected one of lae eval's warnings)"
              for item in (results.get("warnings") if isinstance(results.get("warnings"), list)
                           else []) if not (isinstance(item, str) and any(
                               re.fullmatch(p, item, re.DOTALL) for p in EVAL_WARNINGS))]
    wrong += [f"training_warnings holds {json_text(item)} (expected a warning record of the "
              f"run's metrics.jsonl: epoch, step, kind, message)"
              for item in (results.get("training_warnings")
                           if isinstance(results.get("training_warnings"), list) else [])
              if not _is_training_warning(item)]
    if isinstance(results.get("skipped"), dict):
        wrong += [f"skipped.{name} {json_text(reason)} (expected a metric's name and the text "
                  f"of why it was skipped)" for name, reason in results["skipped"].items()
                  if name not in KEY_PREFIXES or not isinstance(reason, str)]
    if isinstance(results.get("settings"), dict):
        wrong += eval_settings_problems(results["settings"])
    # lae eval's overflow warning stands beside the null it filed
    wrong += [f"warnings holds {json_text(w)} beside a value that is a number"
              for w in results.get("warnings") or [] if isinstance(w, str)
              and re.fullmatch(EVAL_WARNINGS[1], w, re.DOTALL)
              and isinstance(results["metrics"].get(w.partition(":")[0]), dict)
              and results["metrics"][w.partition(":")[0]].get("value") is not None]
    if "n_examples" in results and not is_whole_number(results["n_examples"], 1, COUNT_MAX):
        wrong.append(f"n_examples {json_text(results['n_examples'])} (expected a whole number "
                     f"in 1..{COUNT_MAX})")
    for key, res in results["metrics"].items():
        if metric_of_key(key) is None:
            wrong.append(f"metric {key!r} (no lae metric writes it)")
            continue
        if not isinstance(res, dict):
            wrong.append(f"metric {key!r} is {json.dumps(res)[:80]} (expected an object with a "
                         f"numeric 'value')")
            continue
        n = res.get("n")
        checks = (
            ("value", res.get("value"), res.get("value") is None
             or is_finite_number(res["value"]),
             "null or a finite number"),
            # NaN: no standard error (one example, a median), as files before null wrote it
            ("stderr", res.get("stderr"), res.get("stderr") is None
             or is_finite_number(res["stderr"], 0)
             or isinstance(res["stderr"], float) and math.isnan(res["stderr"]),
             "null or a finite number >= 0"),
            ("n", n, n is None or is_whole_number(n, 1, COUNT_MAX),
             f"a whole number in 1..{COUNT_MAX}"),
            ("settings", res.get("settings"), isinstance(res.get("settings", {}), dict),
             "a mapping"),
            ("per_example", "values" if isinstance(res.get("per_example"), list) else
             res.get("per_example"),
             _is_per_example(res.get("per_example", []), n),
             f"a list of {n} numbers or nulls" if isinstance(n, int) else "a list of numbers"))
        wrong += [f"metric {key!r}: {name} {value!r} (expected {expected})"
                  for name, value, ok, expected in checks if not ok]
        if all(ok for _, _, ok, _ in checks):
            wrong += _summary_problems(key, res)
            low, high = value_range(key)
            if res.get("value") is not None and not low <= res["value"] <= high:
                wrong.append(f"metric {key!r}: value {res['value']!r} (expected {low}..{high})")
            settings = res.get("settings", {})
            # a file with top-level settings holds one lae eval's metrics: theirs (since each
            # metric keeps its own seed: older files kept the first call's after a merge)
            evaluation = results.get("settings") if isinstance(results.get("settings"), dict) \
                and "seed" in settings else None
            wrong += [f"metric {key!r}: {problem}"
                      for problem in setting_problems(metric_of_key(key), settings, evaluation)
                      + _count_problems(res, settings)]
            examples = results.get("n_examples")
            if evaluation is not None and isinstance(examples, int) \
                    and settings.get("n_examples", examples) != examples:
                wrong.append(f"metric {key!r}: setting n_examples {settings['n_examples']!r} is "
                             f"not the evaluation's n_examples {examples}")
        if isinstance(res, dict) and res.get("value") is None and not any(
                isinstance(w, str) and w.startswith(f"{key}: not a finite number")
                for w in results.get("warnings") or []):
            wrong.append(f"metric {key!r}: value null without lae eval's warning that it "
                         f"overflowed")
    # bits per dimension are nats / (dimensions x ln 2), scored with the same settings
    values = {key: res.get("value") if isinstance(res, dict) else None
              for key, res in results["metrics"].items()}
    wrong += [f"metric {problem}" for problem in bits_per_dim_problems(values)]
    for key, res in results["metrics"].items():
        twin = results["metrics"].get(key.removesuffix("_bpd") + "_nats")
        if key.endswith("_bpd") and isinstance(res, dict) and isinstance(twin, dict) \
                and res.get("settings") != twin.get("settings"):
            wrong.append(f"metric {key!r}: settings that are not its nats twin's")
    return wrong


# the fields of a trainer's warning record that lae eval copies into a results file
WARNING_FIELDS = ("epoch", "step", "kind", "message")


def training_warnings(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The warning records among a run's ``metrics.jsonl`` ``records``, as a results file's
    ``training_warnings`` keeps them (:data:`WARNING_FIELDS`)."""
    return [{k: r[k] for k in WARNING_FIELDS if k in r}
            for r in records if r.get("split") == "warning"]


def _is_training_warning(item: Any) -> bool:
    """Whether ``item`` is a trainer's warning as ``lae eval`` copies it from metrics.jsonl."""
    from lae.argtypes import STEP_MAX

    return (isinstance(item, dict) and set(item) <= set(WARNING_FIELDS)
            and all(is_whole_number(item.get(k, 1), 1, STEP_MAX) for k in ("epoch", "step"))
            and all(isinstance(item.get(k, ""), str) for k in ("kind", "message")))


def _count_problems(res: dict[str, Any], settings: dict[str, Any]) -> list[str]:
    """A result's ``n`` against the examples its settings say it scored: a mean over examples
    (one with per-example values) has ``n_examples`` of them (at most: the posterior metric
    leaves out points whose reference did not converge), BDMC's ``n_sim``."""
    n = res.get("n")
    # the posterior metric's counts are of points kept, pairs of draws: not checked here
    if not isinstance(n, int) or "per_example" not in res or "points_left_out" in settings:
        return []
    if "n_sim" in settings:
        return [] if settings["n_sim"] == n else [f"n {n} is not its settings' n_sim "
                                                  f"{settings['n_sim']!r}"]
    examples = settings.get("n_examples")
    if not isinstance(examples, int) or n == examples:
        return []
    return [f"n {n} is not its settings' n_examples {examples}"]


def _summary_problems(key: str, res: dict[str, Any]) -> list[str]:
    """Where a metric keeps its per-example values, its value and standard error are their
    mean and standard error (:func:`lae.eval.registry.summarize`): an edit of one is said."""
    import statistics

    values = res.get("per_example")
    if not values or None in values or res.get("value") is None:
        return []
    mean = statistics.fmean(values)
    # the per-example values are float32's, averaged in float32 by lae eval
    if not math.isclose(res["value"], mean, rel_tol=1e-5, abs_tol=1e-6):
        return [f"metric {key!r}: value {res['value']!r} is not the mean of its per-example "
                f"values ({mean:.6g})"]
    stderr = res.get("stderr")
    if len(values) > 1 and isinstance(stderr, (int, float)) and math.isfinite(stderr):
        expected = statistics.stdev(values) / math.sqrt(len(values))
        if not math.isclose(stderr, expected, rel_tol=1e-3, abs_tol=1e-6):
            return [f"metric {key!r}: stderr {stderr!r} is not the standard error of its "
                    f"per-example values ({expected:.6g})"]
    return []


def _is_per_example(values: Any, n: Any) -> bool:
    """Whether ``values`` is a per-example list as lae eval writes it (``n`` finite numbers or
    nulls)."""
    return (isinstance(values, list) and (not isinstance(n, int) or not values
                                          or len(values) == n)
            and all(v is None or is_finite_number(v)
                    for v in values))


# the checkpoints lae train writes in a run folder: at one epoch, last.pt, best.pt and
# epoch_NNNN.pt are links to one file (lae.train.checkpoint.save_checkpoint)
RUN_CHECKPOINT = re.compile(r"checkpoints/(last|best|epoch_\d{4,})\.pt")


def _identity(results: dict[str, Any]) -> dict[str, Any]:
    """The :data:`IDENTITY` of ``results``, its checkpoint as a path inside its run folder where
    it is one (a run folder moved or renamed since is the same run; a relative, an absolute and
    a ../ spelling are the same file), and one of the run's own checkpoints known by its epoch alone
    (``last.pt`` at epoch 2 is ``epoch_0002.pt``)."""
    identity = {k: results.get(k) for k in IDENTITY}
    inside = checkpoint_in_run(results)
    if inside is not None:  # else a checkpoint from elsewhere: its whole path identifies it
        identity["checkpoint"] = ("the run's checkpoint" if RUN_CHECKPOINT.fullmatch(inside)
                                  else inside)
    return identity


def checkpoint_in_run(results: dict[str, Any]) -> str | None:
    """The path of the checkpoint ``results`` were computed from inside their ``run_dir`` (as
    text with /), or None where it is outside it or either is not recorded."""
    checkpoint, run_dir = results.get("checkpoint"), results.get("run_dir")
    if not (checkpoint and run_dir):
        return None
    # as written, then absolute, each with its ../ parts normalised away (a relative, an
    # absolute and a ../ spelling of one file are that file)
    for file, folder in ((Path(checkpoint), Path(run_dir)),
                         (Path(checkpoint).absolute(), Path(run_dir).absolute())):
        file, folder = Path(os.path.normpath(file)), Path(os.path.normpath(folder))
        try:
            return file.relative_to(folder).as_posix()
        except ValueError:
            continue
    return None


def _differing(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """The :data:`IDENTITY` keys in which two results (or a result and an identity) differ; a
    run's birth that one of them does not record is not compared."""
    first, second = _identity(a), _identity(b)
    return [k for k in IDENTITY if first[k] != second[k]
            and not (k in OPTIONAL_IDENTITY and None in (first[k], second[k]))]


def refuse_other_results(old: dict[str, Any], identity: dict[str, Any], path: Path) -> None:
    """A :class:`lae.errors.RunDirError` when ``path`` holds results of another checkpoint,
    epoch, dataset or split than ``identity`` (with the ``run_dir`` evaluated) describes:
    adding to them would mix two evaluations, and replacing them would lose the user's numbers
    unasked."""
    differ = _differing(old, identity)
    if old.get("metrics") and differ:
        was = ", ".join(f"{k} {old.get(k)}" for k in differ)
        now = ", ".join(f"{k} {identity.get(k)}" for k in differ)
        raise RunDirError(f"{path} holds results of another evaluation ({was}; this one: "
                          f"{now}); pass --overwrite to replace them or --out FILE to keep both")


def merge_results(old: dict[str, Any], new: dict[str, Any], names: list[str]
                  ) -> dict[str, Any]:
    """``new`` (from the metrics ``names``) with the results of ``old`` it did not compute,
    when both describe the same checkpoint, epoch, dataset and split; else ``new`` alone (lae
    eval refuses that case first, :func:`refuse_other_results`, unless told to overwrite).

    Example:
        >>> ident = {"checkpoint": "c.pt", "epoch": 3, "dataset": "d", "split": "test"}
        >>> old = ident | {"metrics": {"nll_ais_nats": 1}, "skipped": {"iwae": "no q"}}
        >>> new = ident | {"metrics": {"mse_per_pixel_01": 2}, "skipped": {}}
        >>> sorted(merge_results(old, new, ["mse"])["metrics"])
        ['mse_per_pixel_01', 'nll_ais_nats']
    """
    if _differing(old, new):
        return new
    metrics = old["metrics"] | new["metrics"]
    skipped = {k: v for k, v in old.get("skipped", {}).items() if k not in names}
    merged = new | {"metrics": metrics, "skipped": skipped | new.get("skipped", {})}
    if set(metrics) != set(new["metrics"]):
        # the top level's settings and example count were this call's alone; each metric
        # keeps its own (seed and examples included)
        merged.pop("settings", None)
        merged.pop("n_examples", None)
    return merged


def paired_difference(a: dict[str, Any], b: dict[str, Any], key: str) -> dict[str, float]:
    """The mean over examples of ``a - b`` for the metric ``key`` of two results of the same
    dataset, split and examples, with the standard error of that mean over the examples: the
    paired comparison of two models (the image-to-image spread, most of each result's own
    standard error, cancels). Results written before ``per_example`` was kept cannot be paired.

    Example:
        >>> ident = {"dataset": "d", "split": "test"}
        >>> a = ident | {"metrics": {"m": {"n": 3, "per_example": [10.0, 20.0, 30.0]}}}
        >>> b = ident | {"metrics": {"m": {"n": 3, "per_example": [9.0, 19.5, 29.5]}}}
        >>> paired_difference(a, b, "m")
        {'difference': 0.6666666666666666, 'stderr': 0.16666666666666666, 'n': 3}
    """
    import statistics

    for side, res in (("first", a), ("second", b)):
        if key not in res.get("metrics", {}):
            raise RunDirError(f"the {side} results have no {key!r}")
        if "per_example" not in res["metrics"][key]:
            raise RunDirError(f"the {side} results' {key!r} has no per-example values (written "
                              f"before lae eval kept them); evaluate it again")
    if (a.get("dataset"), a.get("split")) != (b.get("dataset"), b.get("split")):
        raise RunDirError(f"not the same examples: {a.get('dataset')}/{a.get('split')} against "
                          f"{b.get('dataset')}/{b.get('split')}")
    xa, xb = a["metrics"][key]["per_example"], b["metrics"][key]["per_example"]
    if len(xa) != len(xb):
        raise RunDirError(f"not the same examples: {len(xa)} against {len(xb)} values of {key!r}")
    diff = [u - v for u, v in zip(xa, xb)]
    stderr = statistics.stdev(diff) / len(diff) ** 0.5 if len(diff) > 1 else float("nan")
    return {"difference": statistics.fmean(diff), "stderr": stderr, "n": len(diff)}
