"""Checkpoints and run directories.

A run directory holds ``config.yaml``, ``metrics.jsonl``, ``checkpoints/`` (``epoch_0003.pt`` ...
and ``last.pt``), ``samples/`` and ``plots/``. Checkpoints are written to a temporary file and
renamed, so a crash never leaves a half-written ``last.pt``.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

import torch

from lae.errors import RunDirError

CHECKPOINT_DIR = "checkpoints"
LAST = "last.pt"


def atomic_save(obj: Any, path: Path) -> None:
    """torch.save to a temporary file in the same folder, then rename over ``path``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(obj, f)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def epoch_checkpoint_name(epoch: int) -> str:
    return f"epoch_{epoch:04d}.pt"


def save_checkpoint(run_dir: Path, payload: dict[str, Any], epoch: int, keep: int) -> Path:
    """Write ``epoch_NNNN.pt`` and ``last.pt``; keep the newest ``keep`` epoch files (0: all)."""
    ckpt_dir = run_dir / CHECKPOINT_DIR
    path = ckpt_dir / epoch_checkpoint_name(epoch)
    atomic_save(payload, path)
    # A hard link (or a copy where links are not supported) makes last.pt without a second save.
    tmp_last = ckpt_dir / f".{LAST}.tmp"
    tmp_last.unlink(missing_ok=True)
    try:
        os.link(path, tmp_last)
    except OSError:
        shutil.copyfile(path, tmp_last)
    os.replace(tmp_last, ckpt_dir / LAST)
    if keep > 0:
        for old in sorted(ckpt_dir.glob("epoch_*.pt"))[:-keep]:
            old.unlink()
    return path


def find_checkpoint(run_dir: Path, which: str = "last") -> Path:
    """``which`` is "last", an epoch number, or a path to a .pt file."""
    candidate = Path(which)
    if candidate.suffix == ".pt" and candidate.is_file():
        return candidate
    ckpt_dir = run_dir / CHECKPOINT_DIR
    name = {"last": LAST}.get(which, which)
    if which.isdigit():
        name = epoch_checkpoint_name(int(which))
    path = ckpt_dir / name
    if not path.is_file():
        have = sorted(p.name for p in ckpt_dir.glob("*.pt")) if ckpt_dir.is_dir() else []
        raise RunDirError(f"no checkpoint {path}; available: {', '.join(have) or 'none'} "
                          f"(is {run_dir} a finished or resumable lae run directory?)")
    return path


def load_checkpoint(path: Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    try:
        payload = torch.load(path, map_location=map_location, weights_only=False)
    except Exception as exc:  # torch raises many types for a damaged file
        raise RunDirError(f"cannot read checkpoint {path}: {exc}") from None
    missing = {"config", "model", "epoch", "step"} - set(payload)
    if missing:
        raise RunDirError(f"checkpoint {path} lacks {sorted(missing)}; not a lae checkpoint")
    return payload


def prepare_run_dir(run_dir: Path, *, resume: bool, overwrite: bool) -> None:
    """Make sure we may write into ``run_dir``; never delete what is not a lae run.

    - new or empty folder: created;
    - existing run with ``resume``: kept as it is (training continues from ``last.pt``);
    - existing run with ``overwrite``: its contents are deleted first;
    - anything else: an error that says which flag to use.
    """
    if resume and overwrite:
        raise RunDirError("--resume and --overwrite contradict each other; choose one")
    exists = run_dir.exists() and any(run_dir.iterdir())
    is_run = (run_dir / "config.yaml").is_file()
    if resume:
        if not is_run:
            raise RunDirError(f"--resume: {run_dir} is not a lae run directory (no config.yaml)")
        return
    if exists:
        if not overwrite:
            raise RunDirError(f"run directory {run_dir} already exists and is not empty; pass "
                              "--resume to continue it, --overwrite to replace it, or choose "
                              "another --out")
        if not is_run:
            raise RunDirError(f"--overwrite: refusing to delete {run_dir}, which is not a lae run "
                              "directory (no config.yaml)")
        shutil.rmtree(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
