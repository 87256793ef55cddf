"""Training: configs, the trainer, checkpoints and run directories."""

from lae.train.checkpoint import find_checkpoint, load_checkpoint
from lae.train.config import Config, TrainConfig, config_from_dict, list_presets, load_config
from lae.train.run import load_run
from lae.train.rundir import prepare_run_dir
from lae.train.setup import resolve_device
from lae.train.trainer import Trainer

__all__ = ["Config", "TrainConfig", "Trainer", "config_from_dict", "find_checkpoint",
           "list_presets", "load_checkpoint", "load_config", "load_run", "prepare_run_dir",
           "resolve_device"]
