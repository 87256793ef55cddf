"""Checkpoints and run directories.

A run directory holds ``config.yaml``, ``metrics.jsonl``, ``checkpoints/`` (``epoch_0003.pt`` ...
and ``last.pt``), ``samples/`` and ``plots/``. Checkpoints are written to a temporary file and
renamed, so a crash never leaves a half-written ``last.pt`` (a kill mid-write leaves a hidden
``.*.tmp`` file, removed on ``--resume``). Checkpoints are read with ``weights_only=True``: a file
that holds anything but tensors and plain containers is refused, never executed.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import pickle
import shutil
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

from lae.argtypes import COUNT_MAX, STEP_MAX
from lae.errors import LaeError, RunDirError
from lae.eval.plots import read_metrics
from lae.files import atomic_write, is_finite_number, is_real, is_whole_number
from lae.interrupts import interrupts_deferred
from lae.train.rundir import BEST, CHECKPOINT_DIR, LAST, epoch_checkpoints


def atomic_save(obj: Any, path: Path) -> None:
    """torch.save to memory, then the bytes to a temporary file in the same folder, renamed over
    ``path``. Serialising first keeps a full disk an ``OSError`` (ENOSPC) from Python's own
    write: met inside torch's zip writer, it became that writer's ``RuntimeError`` ("enforce fail
    at inline_container.cc") on cleanup. A checkpoint is held in memory twice for a moment."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    atomic_write(path, lambda f: f.write(buffer.getbuffer()))


def epoch_checkpoint_name(epoch: int) -> str:
    return f"epoch_{epoch:04d}.pt"


def _link(path: Path, target: Path) -> None:
    """Make ``target`` the file ``path`` atomically: a hard link (or a copy where links are not
    supported), so no second save."""
    tmp = target.parent / f".{target.name}.tmp"
    tmp.unlink(missing_ok=True)
    try:
        os.link(path, tmp)
    except OSError:
        shutil.copyfile(path, tmp)
    os.replace(tmp, target)


def save_checkpoint(run_dir: Path, payload: dict[str, Any], epoch: int, keep: int, *,
                    best: bool = False) -> Path:
    """Write ``epoch_NNNN.pt`` and ``last.pt`` (and ``best.pt`` if ``best``); keep the newest
    ``keep`` epoch files up to this epoch (0: all)."""
    ckpt_dir = run_dir / CHECKPOINT_DIR
    path = ckpt_dir / epoch_checkpoint_name(epoch)
    with interrupts_deferred():
        atomic_save(payload, path)
        _link(path, ckpt_dir / LAST)
        if best:
            _link(path, ckpt_dir / BEST)
        if keep > 0:  # a file named for a later epoch is not this run's history: left alone
            kept = [(e, p) for e, p in epoch_checkpoints(run_dir) if e <= epoch]
            for _, old in kept[:-keep]:
                old.unlink()
    return path


def find_checkpoint(run_dir: Path, which: str = "last") -> Path:
    """``which`` is "last", "best" (written by ``train.patience``), an epoch number, or a path
    to a .pt file."""
    candidate = Path(which)
    if candidate.suffix == ".pt" and candidate.is_file():
        return candidate
    ckpt_dir = run_dir / CHECKPOINT_DIR
    name = {"last": LAST, "best": BEST}.get(which, which)
    if which.isascii() and which.isdigit():  # not the full-width ２
        name = epoch_checkpoint_name(int(which))
    path = ckpt_dir / name
    if path.exists() and not path.is_file():
        kind = "folder" if path.is_dir() else "special file"
        raise RunDirError(f"checkpoint {path} is a {kind}, not a file; a checkpoint is a file "
                          f"written by lae train")
    have = (sorted(p.name for p in ckpt_dir.glob("*.pt") if p.is_file())
            if ckpt_dir.is_dir() else [])
    if which == "best" and not path.is_file():
        raise RunDirError(f"no checkpoint {path}: best.pt is written only by a run trained with "
                          f"train.patience (early stopping on a validation split); available: "
                          f"{', '.join(have) or 'none'}: pass --checkpoint last or an epoch")
    if not path.is_file() and candidate.suffix == ".pt":  # a file name: where was it looked for
        raise RunDirError(f"no checkpoint file {which}: neither a path from the current folder "
                          f"nor a file in {ckpt_dir}; the run's checkpoints: "
                          f"{', '.join(have) or 'none'}")
    if not path.is_file() and have:  # a run with checkpoints, not this one
        raise RunDirError(f"no checkpoint {path}; the run keeps {', '.join(have)} (epoch files "
                          f"beyond train.keep_checkpoints are pruned as it trains)")
    if not path.is_file():
        raise RunDirError(f"no checkpoint {path}; available: none (is {run_dir} a finished or "
                          f"resumable lae run directory?)")
    return path


# what a user can do about a damaged checkpoint of the run they name (callers with another
# remedy, resuming or a background model, pass their own)
DAMAGED_ADVICE = "use another checkpoint (--checkpoint)"


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu",
                    advice: str = DAMAGED_ADVICE) -> dict[str, Any]:
    """Read a lae checkpoint safely: tensors, numbers, strings and containers only. ``advice``
    ends the message of a damaged file (what the caller can do instead)."""
    if path.is_file() and path.stat().st_size == 0:
        raise RunDirError(f"checkpoint {path} is an empty file (a save that never finished); "
                          f"{advice}")
    if path.is_file() and not zipfile.is_zipfile(path):
        raise RunDirError(f"checkpoint {path} is not a torch checkpoint (truncated, or another "
                          f"kind of file); {advice}")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as exc:
        # weights_only refuses any global it does not know (a callable, a class): a crafted
        # file would run code on load, so it is an error, never retried without the guard.
        first = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise RunDirError(f"refusing to load checkpoint {path}: it holds objects other than "
                          f"tensors and plain containers, which lae never writes ({first})"
                          ) from None
    except Exception as exc:  # torch raises many types for a damaged file
        raise RunDirError(f"cannot read checkpoint {path}: {exc}") from None
    if not isinstance(payload, dict):
        raise RunDirError(f"checkpoint {path} holds a {type(payload).__name__}, not a lae "
                          "checkpoint (a dict)")
    missing = {"config", "model", "epoch", "step"} - set(payload)
    if missing:
        raise RunDirError(f"checkpoint {path} lacks {sorted(missing)}; not a lae checkpoint")
    wrong = header_problems(payload)
    if wrong:
        raise RunDirError(f"checkpoint {path}: {'; '.join(wrong)}: not as lae writes them, so "
                          f"the file was edited or damaged; {advice}")
    return payload


# a run's training time beyond this (over 300 years) was edited in
TRAIN_SECONDS_MAX = 1e10


def _is_count(value: Any) -> bool:
    return is_whole_number(value, 0, STEP_MAX)


def _is_step_size(value: Any) -> bool:
    return is_finite_number(value, 0.0)


def header_problems(payload: dict[str, Any]) -> list[str]:
    """What in a checkpoint's header (everything but its tensors) is not as
    :func:`lae.train.resume.checkpoint_state` writes it, one phrase per field: the one place
    where every command that reads a checkpoint (eval, sample, the tasks, ``--resume``) checks
    it, so that an edited field is refused alike by all and named, not met later as a wrong
    number or Python's own message. Fields older checkpoints lack are not required.

    Example:
        >>> header_problems({"config": {}, "model": {}, "epoch": 2, "step": 1})
        ['step 1 (expected a whole number in 2..2^53: at least one step per epoch)']
    """
    epoch, step = payload.get("epoch"), payload.get("step")
    wrong = [f"{key} is a {type(payload.get(key)).__name__} (expected a mapping)"
             for key in ("config", "model", "data_spec", "optimizers", "rng", "early_stopping",
                         "chain_watch")
             if key in payload and not isinstance(payload[key], dict)]
    # a checkpoint is written at the end of an epoch (the first is 1), each epoch one step or more
    if not is_whole_number(epoch, 1, COUNT_MAX):
        wrong.append(f"epoch {epoch!r} (expected a whole number in 1..{COUNT_MAX}, as "
                     f"train.epochs)")
        epoch = 1
    if not is_whole_number(step, epoch, STEP_MAX):
        wrong.append(f"step {step!r} (expected a whole number in {epoch}..2^53: at least one "
                     f"step per epoch)")
    if "world_size" in payload and not is_whole_number(payload["world_size"], 1, COUNT_MAX):
        wrong.append(f"world_size {payload['world_size']!r} (expected a whole number of "
                     f"processes in 1..{COUNT_MAX})")
    if "train_seconds" in payload and not is_real(payload["train_seconds"], 0,
                                                  TRAIN_SECONDS_MAX):
        wrong.append(f"train_seconds {payload['train_seconds']!r} (expected a duration in "
                     f"0..{TRAIN_SECONDS_MAX:.0e} s)")
    watch = payload.get("chain_watch")  # lae.train.guards.ChainWatch.state_dict
    if isinstance(watch, dict):
        for name, ok, what in (("stalled_steps", _is_count, "counts of steps"),
                               ("stalled_run", _is_count, "counts of steps"),
                               ("max_step_size", _is_step_size, "finite step sizes")):
            field = watch.get(name, {})
            bad = field if not isinstance(field, dict) else next(
                (v for v in field.values() if not ok(v)), None)
            if bad is not None:
                wrong.append(f"chain_watch.{name} holds {bad!r} (expected a mapping to {what} "
                             f">= 0)")
    stopping = payload.get("early_stopping")
    if isinstance(stopping, dict):
        best_epoch = stopping.get("best_epoch", 0)
        if not is_whole_number(best_epoch, 0, epoch):
            wrong.append(f"early_stopping.best_epoch {best_epoch!r} (expected a whole number "
                         f"in 0..{epoch}, the checkpoint's epoch; 0: none scored yet)")
        # the best validation bound: +inf until an epoch is scored (best_epoch 0), then finite
        best_value = stopping.get("best_value", float("inf"))
        scored = isinstance(best_epoch, int) and best_epoch > 0
        if not (is_real(best_value, -math.inf, math.inf)
                and math.isfinite(best_value) == scored):
            wrong.append(f"early_stopping.best_value {best_value!r} (expected a finite number "
                         f"once an epoch is scored, inf before)")
    return wrong


@contextlib.contextmanager
def checkpoint_part(path: Path, part: str, advice: str = DAMAGED_ADVICE) -> Iterator[None]:
    """A context in which reading the part ``part`` of the checkpoint ``path`` (its data spec,
    its training state) that is not as lae writes it (a key missing, a value of another type:
    an edited file) is a :class:`RunDirError` naming the file and the part, not a KeyError or
    TypeError traceback; ``advice`` ends the message."""
    try:
        yield
    except LaeError:  # already says what is wrong
        raise
    except (KeyError, TypeError, ValueError, IndexError, AttributeError, RuntimeError) as exc:
        what = (f"no key {exc}" if isinstance(exc, KeyError) else
                str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        raise RunDirError(f"checkpoint {path}: its {part} is not as lae writes it ({what}), so "
                          f"the file was edited or damaged; {advice}") from None


def load_model_state(model: torch.nn.Module, state: Any, path: Path | str,
                     advice: str = DAMAGED_ADVICE) -> None:
    """``model.load_state_dict(state)``, where ``state`` came from the checkpoint ``path``:
    tensors that do not fit the model its config describes (an edited or foreign file), or
    weights that are not finite, are a :class:`RunDirError` naming the file (``advice`` ends
    its message), not torch's traceback or NaN results."""
    try:
        model.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError, AttributeError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise RunDirError(f"checkpoint {path}: its tensors do not fit the model its config "
                          f"describes ({first}); the file was edited or comes from another "
                          f"model") from None
    # training skips every step with a non-finite loss or gradient, so such weights were
    # edited in or damaged: every number computed from them would be NaN
    bad = [name for name, p in model.named_parameters() if not bool(torch.isfinite(p).all())]
    if bad:
        raise RunDirError(f"checkpoint {path}: {len(bad)} weight tensor(s) hold non-finite "
                          f"values ({', '.join(bad[:3])}{', ...' if len(bad) > 3 else ''}); lae "
                          f"train never saves such weights, so the file was edited or damaged; "
                          f"{advice}")


def check_checkpoint_records(run_dir: Path, path: Path, epoch: int, step: int,
                             advice: str) -> list[dict[str, Any]]:
    """The run's ``metrics.jsonl`` records, refused where they do not fit its checkpoint
    ``path`` (of ``epoch`` at ``step``): lae train writes each epoch's checkpoint together with
    its test record of that epoch and step, and no record of that epoch or an earlier one
    after it. A run without records (they were removed) is not checked.

    Raises:
        RunDirError: naming both files, ending with ``advice``.
    """
    metrics = run_dir / "metrics.jsonl"
    records = read_metrics(metrics)
    if not records:
        return records
    # a record after the checkpoint belongs to a later epoch, one before it to this or an
    # earlier one
    odd = next((r for r in records if (r["step"] > step) != (r["epoch"] > epoch)), None)
    if odd is not None:
        raise RunDirError(f"{metrics}: a {odd['split']} record of epoch {odd['epoch']} at step "
                          f"{odd['step']} does not fit {path} (epoch {epoch}, step {step}): one "
                          f"of the two was edited; {advice}")
    if not any(r["split"] == "test" and (r["epoch"], r["step"]) == (epoch, step)
               for r in records):
        raise RunDirError(f"{path} is of epoch {epoch} at step {step}, and {metrics} has no "
                          f"test record of that epoch and step (lae train writes one with each "
                          f"checkpoint): one of the two was edited; {advice}")
    return records
