"""What a resumed run may change, and the check that refuses the rest."""

from __future__ import annotations

from typing import Any

from lae.errors import ConfigError
from lae.train.config import Config

# what a resumed run may change: how long and how fast it trains, what it logs and where it runs;
# everything else (the model, the data, the optimiser's kind) is in the checkpoint's tensors or
# in the meaning of its numbers
RESUMABLE_CHANGES = {
    ("data", "data_dir"), ("data", "download"),
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


def check_resumable(checkpoint: dict[str, Any], cfg: Config) -> None:
    """Refuse to resume a checkpoint under a config that changes what it holds (the model's or
    the data's settings, the optimiser), naming the keys, or a run that has already trained
    ``train.epochs`` epochs."""
    saved = checkpoint.get("config") or {}
    new = cfg.to_dict()
    free_keys = resumable_changes(cfg)
    changed = []
    for section in ("data", "model", "train"):
        old_s, new_s = saved.get(section, {}), new.get(section, {})
        for key in sorted(old_s, key=str):  # keys lae added since the checkpoint: unknown
            old_v, new_v = old_s.get(key), new_s.get(key)
            if isinstance(old_v, dict) and isinstance(new_v, dict):  # e.g. prior_options
                free = {k[2] for k in free_keys if len(k) == 3 and k[:2] == (section, key)}
                old_v = {k: v for k, v in old_v.items() if k not in free}
                new_v = {k: v for k, v in new_v.items() if k not in free}
            if (section, key) in free_keys or old_v == new_v:
                continue
            changed.append(f"{section}.{key} ({_show(old_s.get(key))} -> "
                           f"{_show(new_s.get(key))})")
    if changed:
        raise ConfigError(f"cannot resume with changed settings: {', '.join(changed)}. A "
                          f"resumed run keeps its model, data and optimiser; train a new run "
                          f"(another --out) to change them")
    done = int(checkpoint.get("epoch", 0))
    if done >= cfg.train.epochs:
        raise ConfigError(f"the run has already trained {done} epoch(s) and train.epochs is "
                          f"{cfg.train.epochs}: nothing to resume; pass "
                          f"--train.epochs={done + 10} (or more) to train longer")


def _show(value: Any) -> str:
    return "unset" if value is None else repr(value)
