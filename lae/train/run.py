"""Load a trained model back from its run directory (for sampling, evaluation and reports)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from lae.errors import RunDirError
from lae.models import DataSpec, LatentModel, build_model
from lae.train.checkpoint import find_checkpoint, load_checkpoint
from lae.train.config import Config, config_from_dict


@dataclass
class LoadedRun:
    run_dir: Path
    checkpoint_path: Path
    config: Config
    model: LatentModel  # in eval mode
    epoch: int
    step: int


def load_run(run_dir: Path | str, checkpoint: str = "last",
             device: torch.device | str = "cpu") -> LoadedRun:
    """Rebuild the model of a run from a checkpoint; the data set is not needed.

    Args:
        run_dir: a folder written by ``lae train``.
        checkpoint: "last", an epoch number, or a path to a ``.pt`` file.
        device: where to put the model.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunDirError(f"run directory {run_dir} does not exist")
    path = find_checkpoint(run_dir, checkpoint)
    payload: dict[str, Any] = load_checkpoint(path)
    cfg = config_from_dict(payload["config"])
    raw_spec = payload["data_spec"]
    spec = DataSpec(shape=tuple(raw_spec["shape"]), value_range=tuple(raw_spec["value_range"]),
                    n_bits=raw_spec["n_bits"], binary=raw_spec["binary"],
                    missing=raw_spec.get("missing", False),
                    n_train=raw_spec.get("n_train", 0))
    model = build_model(cfg.model, spec)
    model.load_state_dict(payload["model"])
    model.to(device).eval()
    return LoadedRun(run_dir, path, cfg, model, payload["epoch"], payload["step"])
