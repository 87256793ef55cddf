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
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from lae.errors import RunDirError

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
    """The results in ``path``; a file that is not a results object is a
    :class:`lae.errors.RunDirError` naming it."""
    try:
        results = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunDirError(f"{path}: not a readable results file ({exc}); move it away or run "
                          f"lae eval with --overwrite") from None
    if not isinstance(results, dict) or not isinstance(results.get("metrics"), dict):
        raise RunDirError(f"{path}: not a results file of lae eval (expected a JSON object with "
                          f"a 'metrics' object); move it away or run lae eval with --overwrite")
    for key, res in results["metrics"].items():  # an edited value is said, not dropped
        value = res.get("value") if isinstance(res, dict) else res
        if not isinstance(res, dict) or not (value is None or isinstance(value, (int, float))
                                             and not isinstance(value, bool)):
            raise RunDirError(f"{path}: metric {key!r} is {json.dumps(res)[:80]}, not a result "
                              f"of lae eval (an object with a numeric 'value'); move the file "
                              f"away or run lae eval with --overwrite")
    return results


# the checkpoints lae train writes in a run folder: at one epoch, last.pt, best.pt and
# epoch_NNNN.pt are links to one file (lae.train.checkpoint.save_checkpoint)
RUN_CHECKPOINT = re.compile(r"checkpoints/(last|best|epoch_\d{4,})\.pt")


def _identity(results: dict[str, Any]) -> dict[str, Any]:
    """The :data:`IDENTITY` of ``results``, its checkpoint as a path inside its run folder where
    it is one (a run folder moved or renamed since is the same run; a relative, an absolute and
    a ../ spelling are the same file), and one of the run's own checkpoints known by its epoch alone
    (``last.pt`` at epoch 2 is ``epoch_0002.pt``)."""
    identity = {k: results.get(k) for k in IDENTITY}
    checkpoint, run_dir = results.get("checkpoint"), results.get("run_dir")
    if checkpoint and run_dir:
        # as written, then absolute, each with its ../ parts normalised away (a relative, an
        # absolute and a ../ spelling of one file are that file)
        for file, folder in ((Path(checkpoint), Path(run_dir)),
                             (Path(checkpoint).absolute(), Path(run_dir).absolute())):
            file, folder = Path(os.path.normpath(file)), Path(os.path.normpath(folder))
            try:
                inside = file.relative_to(folder).as_posix()
            except ValueError:  # a checkpoint from elsewhere: its whole path identifies it
                continue
            identity["checkpoint"] = ("the run's checkpoint" if RUN_CHECKPOINT.fullmatch(inside)
                                      else inside)
            break
    return identity


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
