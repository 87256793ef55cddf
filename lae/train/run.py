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


def _run_model_name(run_dir: Path) -> str | None:
    """model.name in the run's config.yaml, or None where the file is missing or empty or names
    no model (the checkpoint's own config then stands alone). A file that is not YAML is an
    error: it was damaged, and the check it carries (which model the run trained) would be
    skipped."""
    import yaml

    path = run_dir / "config.yaml"
    try:
        text = path.read_text()
    except OSError:
        return None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RunDirError(f"{path} is damaged ({first}); restore it (the checkpoint holds the "
                          f"run's config) or remove it") from None
    try:
        name = raw["model"]["name"]
    except (KeyError, TypeError):
        return None
    return name if isinstance(name, str) else None


@dataclass
class LoadedRun:
    run_dir: Path
    checkpoint_path: Path
    config: Config
    model: LatentModel  # in eval mode
    epoch: int
    step: int


def is_foreign_checkpoint(run: LoadedRun) -> bool:
    """True when the run's checkpoint is a file outside its own checkpoints folder (results
    written into the run folder would then describe another run)."""
    own = (run.run_dir / "checkpoints").resolve()
    return own not in run.checkpoint_path.resolve().parents


def load_run(run_dir: Path | str, checkpoint: str = "last",
             device: torch.device | str = "cpu") -> LoadedRun:
    """Rebuild the model of a run from a checkpoint; the data set is not needed.

    Args:
        run_dir: a folder written by ``lae train``.
        checkpoint: "last", an epoch number, or a path to a ``.pt`` file.
        device: where to put the model.
    """
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise RunDirError(f"{run_dir} is a file; expected a run folder written by lae train")
    if not run_dir.is_dir():
        raise RunDirError(f"run directory {run_dir} does not exist")
    path = find_checkpoint(run_dir, checkpoint)
    payload: dict[str, Any] = load_checkpoint(path)
    cfg = config_from_dict(payload["config"])
    trained = _run_model_name(run_dir)
    if trained is not None and trained != cfg.model.name:
        raise RunDirError(f"checkpoint {path} holds a {cfg.model.name!r} model, but "
                          f"{run_dir / 'config.yaml'} says the run trained {trained!r}: its "
                          "numbers would be filed under the wrong model; if the checkpoint came "
                          "from another run, evaluate that run; if config.yaml was edited, "
                          "restore it")
    raw_spec = payload["data_spec"]
    spec = DataSpec(shape=tuple(raw_spec["shape"]), value_range=tuple(raw_spec["value_range"]),
                    n_bits=raw_spec["n_bits"], binary=raw_spec["binary"],
                    missing=raw_spec.get("missing", False),
                    n_train=raw_spec.get("n_train", 0))
    model = build_model(cfg.model, spec)
    model.load_state_dict(payload["model"])
    model.to(device).eval()
    return LoadedRun(run_dir, path, cfg, model, payload["epoch"], payload["step"])
