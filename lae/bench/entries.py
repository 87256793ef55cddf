"""Model entries of a benchmark: a model name, optionally with config overrides after ``+``.

``lae+model.mala_steps=0`` is the LAE with ``model.mala_steps=0`` (the paper's plain ALD); the
whole entry is its label in every table. Each entry trains from the preset
``<model>-<data>-<net>`` (e.g. ``lae-mnist5k-mlp``) with the benchmark's own overrides first
and the entry's after them.

Example:
    >>> parse_entry("lae+model.mala_steps=0")
    ModelEntry(label='lae+model.mala_steps=0', model='lae', overrides=('model.mala_steps=0',))
"""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from lae.errors import ConfigError
from lae.train import Config, Trainer, load_config
from lae.train.config import refuse_repeated_overrides

# the train.* keys a benchmark reads per model (the optimiser and the compiled step); every other
# one it sets alike for all (batch_size, seed, device, num_threads) or never reads (epochs,
# patience, evaluation, checkpoints, logging)
ENTRY_TRAIN_KEYS = ("train.lr", "train.optimizer", "train.adam_betas", "train.grad_clip",
                    "train.compile", "train.compile_mode")


@dataclass(frozen=True)
class ModelEntry:
    """One model of a benchmark: ``label`` as given, the model's name and its overrides."""

    label: str
    model: str
    overrides: tuple[str, ...] = ()

    def preset(self, data: str = "mnist5k", net: str = "mlp") -> str:
        """The preset this entry starts from, e.g. ``lae-mnist5k-mlp``."""
        return f"{self.model}-{data}-{net}"


def parse_entry(entry: str) -> ModelEntry:
    """``"model+section.key=value+..."`` -> :class:`ModelEntry`; an unknown model or an override
    that is not ``section.key=value`` is a :class:`ConfigError` naming it."""
    from lae.models import MODELS

    model, *overrides = (part.strip() for part in entry.strip().split("+"))
    if model not in MODELS:
        raise ConfigError(f"unknown model {model!r} in {entry!r}; models: "
                          f"{', '.join(sorted(MODELS))}")
    bad = [o for o in overrides if "=" not in o or "." not in o.split("=")[0]]
    if bad:
        raise ConfigError(f"{entry!r}: overrides after '+' look like section.key=value, got "
                          f"{', '.join(repr(b) for b in bad)}")
    data = [o for o in overrides if o.split("=")[0].startswith("data.")]
    if data:  # every model of the suite trains and is timed on the suite's one dataset
        raise ConfigError(f"{entry!r}: {', '.join(data)}: a benchmark's data are the suite's "
                          f"(--data, --data-dir), the same for every model; overrides after "
                          f"'+' may change the model and its training only")
    unread = [o for o in overrides if o.split("=")[0].startswith("train.")
              and o.split("=")[0].strip() not in ENTRY_TRAIN_KEYS]
    if unread:  # the suite would set them for every model, or never read them: refused
        raise ConfigError(f"{entry!r}: {', '.join(unread)}: a benchmark times and trains every "
                          f"model at one batch size, seed, device and thread count, to time "
                          f"budgets (no epochs, evaluation or checkpoints); the training keys "
                          f"a model may change after '+' are {', '.join(ENTRY_TRAIN_KEYS)}")
    try:
        refuse_repeated_overrides(overrides)
    except ConfigError as exc:
        raise ConfigError(f"{entry!r}: {exc}") from None
    return ModelEntry(entry.strip(), model, tuple(overrides))


def parse_entries(text: str) -> list[ModelEntry]:
    """A comma-separated list of entries (``"vae,lae,lae+model.mala_steps=0"``), each once."""
    entries = [parse_entry(e) for e in text.split(",") if e.strip()]
    if not entries:
        raise ConfigError("--models: give at least one model")
    labels = [e.label for e in entries]
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise ConfigError(f"--models: {', '.join(repeated)} given more than once")
    return entries


def entry_config(entry: ModelEntry, overrides: Sequence[str] = (), data: str = "mnist5k",
                 net: str = "mlp") -> Config:
    """The resolved config of ``entry``: its preset, then ``overrides``, then its own overrides
    (bad keys and values raise :class:`ConfigError` here, before any work)."""
    own = {item.partition("=")[0] for item in entry.overrides}  # these win over the common ones
    common = [item for item in overrides if item.partition("=")[0] not in own]
    return load_config(entry.preset(data, net), [*common, *entry.overrides])


@contextmanager
def scratch_trainers() -> Iterator[Callable[[Config], Trainer]]:
    """A factory ``config -> Trainer`` whose run folders (a trainer writes its config and marker
    there) live in one temporary folder, deleted on exit: a benchmark keeps no runs."""
    with tempfile.TemporaryDirectory(prefix="lae-bench-") as root:
        runs = itertools.count()
        yield lambda cfg: Trainer(cfg, Path(root) / f"run-{next(runs)}")
