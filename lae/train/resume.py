"""Resuming a run: what a checkpoint holds of the trainer, putting it back, what a resumed run
may change, and the check that refuses the rest."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from lae.errors import ConfigError
from lae.train import distributed
from lae.train.checkpoint import (
    check_checkpoint_records,
    checkpoint_part,
    find_checkpoint,
    load_checkpoint,
    load_model_state,
)
from lae.train.config import Config
from lae.train.rundir import resume_advice

# The functions on a trainer take a lae.train.Trainer (typed Any: this module sits below it).
Trainer = Any

# what a resumed run may change: how long and how fast it trains, what it logs, where it runs
# and where its data are;
# everything else (the model, the data, the optimiser's kind) is in the checkpoint's tensors or
# in the meaning of its numbers
RESUMABLE_CHANGES = {
    # where the data are (a moved file or folder): the content's digest, recorded in the run's
    # lae-run.json, says whether they are the data the run trained on (a warning if not)
    ("data", "data_dir"), ("data", "download"), ("data", "path"),
    *(("train", k) for k in ("epochs", "lr", "adam_betas", "grad_clip", "device", "num_threads",
                             "log_every", "eval_size", "eval_k", "eval_batch_size",
                             "eval_ais_temps", "eval_ais_chains", "n_samples",
                             "keep_checkpoints", "patience", "tensorboard", "progress", "compile",
                             "compile_mode", "stall_steps", "stall_acceptance", "on_stall"))}


def resumable_changes(cfg: Config) -> set[tuple[str, ...]]:
    """The (section, key[, subkey]) settings a resumed run may change: the data's and the
    trainer's above, and the model's as its config class declares (``ModelConfig.resumable``)."""
    model = {("model", *key.split(".")) for key in type(cfg.model).resumable}
    return RESUMABLE_CHANGES | model


def load_resumable(run_dir: Path, cfg: Config, world_size: int) -> dict[str, Any]:
    """The run's ``last.pt``, checked against the config it is resumed with
    (:func:`check_resumable`) and the number of processes it was trained on."""
    path = find_checkpoint(run_dir, "last")
    checkpoint = load_checkpoint(path, advice=resume_advice(run_dir))
    # an epoch or step edited past the run's records is said before what the epoch implies
    check_checkpoint_records(run_dir, path, checkpoint["epoch"], checkpoint["step"],
                             resume_advice(run_dir))
    # its config edited by hand (text, null, a list): named (load_checkpoint checked the rest
    # of its header, lae.train.checkpoint.header_problems)
    with checkpoint_part(path, "config", resume_advice(run_dir)):
        check_resumable(checkpoint, cfg)
    saved_world = checkpoint.get("world_size", 1)
    if saved_world != world_size:
        raise ConfigError(f"the run was trained on {saved_world} process(es) and is resumed on "
                          f"{world_size}: resume it on {saved_world} (its per-process random "
                          f"streams and batches depend on the number)")
    return checkpoint


def check_resumable(checkpoint: dict[str, Any], cfg: Config) -> None:
    """Refuse to resume a checkpoint under a config that changes what it holds (the model's or
    the data's settings, the optimiser), naming the keys, or a run that has already trained
    ``train.epochs`` epochs."""
    saved = checkpoint.get("config") or {}
    held = (saved.get("model") or {}).get("name")
    if held is not None and held != cfg.model.name:  # not a changed setting: another run's file
        raise ConfigError(f"the run's last checkpoint holds a {held!r} model, but its config a "
                          f"{cfg.model.name!r} one: the checkpoint came from another run; put "
                          f"this run's own back (or resume the run it came from)")
    changed = changed_settings(saved, cfg.to_dict(), resumable_changes(cfg))
    if changed:
        raise ConfigError(f"cannot resume with changed settings: {', '.join(changed)} "
                          f"(checkpoint -> the run's config.yaml with this command's "
                          f"overrides). A resumed run keeps its model, data and optimiser; "
                          f"undo an edit of config.yaml, or train a new run (another --out) to "
                          f"change them")
    done = checkpoint["epoch"]
    if done >= cfg.train.epochs:
        raise ConfigError(f"the run has already trained {done} epoch(s) and train.epochs is "
                          f"{cfg.train.epochs}: nothing to resume; pass --train.epochs above "
                          f"{done} (e.g. --train.epochs={done + 10}) to train longer")


def changed_settings(saved: dict[str, Any], new: dict[str, Any],
                     free_keys: set[tuple[str, ...]]) -> list[str]:
    """The settings of ``new`` (a config as a plain dict) that differ from ``saved`` (a
    checkpoint's), outside ``free_keys`` (:func:`resumable_changes`), each as "section.key (old
    -> new)"; keys ``saved`` lacks (added to lae since it was written) are not compared."""
    changed = []
    for section in ("data", "model", "train"):
        old_s, new_s = saved.get(section) or {}, new.get(section) or {}
        for key in sorted(old_s, key=str):
            old_v, new_v = old_s.get(key), new_s.get(key)
            if isinstance(old_v, dict) and isinstance(new_v, dict):  # e.g. prior_options
                free = {k[2] for k in free_keys if len(k) == 3 and k[:2] == (section, key)}
                old_v = {k: v for k, v in old_v.items() if k not in free}
                new_v = {k: v for k, v in new_v.items() if k not in free}
            if (section, key) in free_keys or old_v == new_v:
                continue
            if isinstance(old_v, dict) and isinstance(new_v, dict):  # name the sub-keys only
                changed += [f"{section}.{key}.{k} ({_show(old_v.get(k))} -> "
                            f"{_show(new_v.get(k))})" for k in sorted({*old_v, *new_v}, key=str)
                            if old_v.get(k) != new_v.get(k)]
                continue
            changed.append(f"{section}.{key} ({_show(old_s.get(key))} -> "
                           f"{_show(new_s.get(key))})")
    return changed


def _show(value: Any) -> str:
    return "unset" if value is None else repr(value)


def checkpoint_state(trainer: Trainer) -> dict[str, Any]:
    """What a checkpoint holds. On several processes (a collective: every process calls
    it) the random streams of every process, for a resume on as many."""
    rng = {"torch": torch.get_rng_state(), "data": trainer.generator.get_state(),
           "model": trainer.model_generator.get_state(),
           "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}
    if trainer.procs.distributed:
        rng["model_per_process"] = distributed.gather_objects(
            trainer.model_generator.get_state().cpu())
        rng["chain"] = trainer.chain_generator.get_state()
    return {
        "config": trainer.cfg.to_dict(),
        "data_spec": trainer.spec.__dict__,
        "model": trainer.model.state_dict(),
        "optimizers": {k: opt.state_dict() for k, opt in trainer.optimizers.items()},
        "epoch": trainer.epoch,
        "step": trainer.step,
        "train_seconds": trainer.train_seconds,
        "early_stopping": early_stopping_state(trainer),
        "chain_watch": trainer.chain_watch.state_dict(),
        "world_size": trainer.procs.world_size,
        "rng": rng,
    }


def early_stopping_state(trainer: Trainer) -> dict[str, Any]:
    """The best validation bound so far and its epoch."""
    return {"best_epoch": trainer.best_epoch, "best_value": trainer.best_value}


def restore_state(trainer: Trainer, ckpt: dict[str, Any]) -> None:
    """Put a checkpoint's state back into a trainer built from the same config (model,
    optimisers at the trainer's learning rates, counters, random streams, early stopping, the
    chain watch), and drop the log records written after it."""
    last, advice = find_checkpoint(trainer.run_dir, "last"), resume_advice(trainer.run_dir)
    load_model_state(trainer.model, ckpt["model"], last, advice=advice)
    with checkpoint_part(last, "training state (optimisers, counters, random streams)",
                         advice):
        _restore_training_state(trainer, ckpt)
    # Records written after the checkpoint (by a run that then died) would be repeated; a
    # last line torn by a crash mid-write is dropped (read_metrics warns).
    if trainer.procs.is_main and trainer.metrics_path.is_file():
        # records that do not fit the checkpoint: the file or the checkpoint was edited, and
        # cutting would lose records
        records = check_checkpoint_records(trainer.run_dir, last, trainer.epoch, trainer.step,
                                           advice)
        kept = [r for r in records if r["step"] <= trainer.step]
        trainer.metrics_path.write_text("".join(json.dumps(r) + "\n" for r in kept))


def _restore_training_state(trainer: Trainer, ckpt: dict[str, Any]) -> None:
    """The optimisers, counters, random streams, early stopping and chain watch of ``ckpt``."""
    for name, opt in trainer.optimizers.items():
        # the config decides the hyperparameters (a resumed run may change train.lr and
        # adam_betas; an edited beta, eps or weight decay is not taken); the checkpoint holds the
        # optimiser's state, which must fit the parameters it belongs to
        config = [{k: v for k, v in group.items() if k != "params"} for group in opt.param_groups]
        opt.load_state_dict(ckpt["optimizers"][name])
        for group, hyper in zip(opt.param_groups, config):
            group.update(hyper, lr=trainer.lrs[name])
        check_optimizer_state(opt, name)
    trainer.epoch, trainer.step = ckpt["epoch"], ckpt["step"]
    trainer.train_seconds = float(ckpt.get("train_seconds", 0.0))  # older checkpoints: 0
    torch.set_rng_state(ckpt["rng"]["torch"])
    trainer.generator.set_state(ckpt["rng"]["data"])
    if trainer.procs.distributed:
        trainer.model_generator.set_state(ckpt["rng"]["model_per_process"][trainer.procs.rank])
        trainer.chain_generator.set_state(ckpt["rng"]["chain"])
    elif "model" in ckpt["rng"]:  # checkpoints before the model had its own generator
        trainer.model_generator.set_state(ckpt["rng"]["model"])
    if ckpt["rng"]["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(ckpt["rng"]["cuda"])
    stopping = ckpt.get("early_stopping", {})  # older checkpoints: none
    trainer.best_epoch = int(stopping.get("best_epoch", 0))
    trainer.best_value = float(stopping.get("best_value", float("inf")))
    trainer.chain_watch.load_state_dict(ckpt.get("chain_watch", {}))


def check_optimizer_state(opt: torch.optim.Optimizer, name: str) -> None:
    """A ValueError naming the tensor of ``opt``'s state (loaded from a checkpoint) whose shape,
    dtype or values do not fit its parameter: such a tensor (an edited file) crashed the
    optimiser's fused step, a segmentation fault rather than an error."""
    for group in opt.param_groups:
        for param in group["params"]:
            for key, value in opt.state.get(param, {}).items():
                if not isinstance(value, torch.Tensor):
                    continue
                if key == "step":  # a count of steps (Adam's bias correction divides by it)
                    if not (value.numel() == 1 and bool(torch.isfinite(value).all())
                            and float(value) >= 0):
                        raise ValueError(f"optimizers.{name}: its state {key!r} is "
                                         f"{float(value)!r} (expected a count of steps >= 0)")
                    continue
                if value.shape != param.shape or not value.dtype.is_floating_point:
                    raise ValueError(f"optimizers.{name}: its state {key!r} is a "
                                     f"{tuple(value.shape)} {value.dtype} tensor for a parameter "
                                     f"of shape {tuple(param.shape)}")
                # second moments (Adam's exp_avg_sq) are means of squares
                if not bool(torch.isfinite(value).all()) or (
                        key.endswith("_sq") and bool((value < 0).any())):
                    raise ValueError(f"optimizers.{name}: its state {key!r} holds non-finite "
                                     f"values{' or negative ones' if key.endswith('_sq') else ''}")
