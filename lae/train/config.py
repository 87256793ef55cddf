"""Run configuration: dataclasses loaded from YAML presets and overridden by ``--key=value``.

A config has three sections, each a dataclass owned by the layer that uses it:
``data`` (:class:`lae.data.DataConfig`), ``model`` (the registered model's ``Config``, a subclass of
:class:`lae.models.ModelConfig`) and ``train`` (:class:`TrainConfig`). Unknown keys and values of
the wrong type are errors that name the key and list what is valid; the resolved config is saved
in the run directory and in every checkpoint.

Example::

    >>> cfg = load_config("vae-mnist5k-mlp", ["model.latent_dim=8", "train.epochs=2"])
    >>> cfg.model.latent_dim, cfg.train.epochs
    (8, 2)
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lae.data import DataConfig
from lae.errors import ConfigError
from lae.models import MODELS, ModelConfig

PRESET_DIR = Path(__file__).resolve().parents[1] / "configs"


@dataclass
class TrainConfig:
    """Optimisation, logging and checkpointing settings shared by every model."""

    epochs: int = 10
    batch_size: int = 100
    lr: float = 1e-3
    optimizer: str = "adam"  # "adam", or "sgd" (plain SGD without momentum, the authors' LAE)
    adam_betas: tuple[float, float] = (0.9, 0.999)
    grad_clip: float = 0.0  # max global grad norm per loss group; 0 turns clipping off
    seed: int = 0
    device: str = "auto"  # "auto" tries cuda, then mps, then cpu
    num_threads: int = 0  # torch intra-op threads; 0 keeps torch's default
    log_every: int = 20  # steps between metrics.jsonl records
    eval_size: int = 1000  # evenly spaced test examples scored after every epoch (0 = all)
    eval_k: int = 100  # importance samples for the per-epoch IWAE bound
    eval_batch_size: int = 250
    n_samples: int = 64  # images in the per-epoch sample grid
    keep_checkpoints: int = 3  # epoch checkpoints kept besides last.pt; 0 keeps all
    tensorboard: bool = False
    progress: bool = True  # tqdm bar with loss and images/s (on a terminal only)


@dataclass
class Config:
    """A whole run: what data, which model, how to train."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def to_dict(self) -> dict[str, Any]:
        return _to_plain(dataclasses.asdict(self))


def _to_plain(value: Any) -> Any:
    """Tuples become lists so the YAML stays plain (safe_load can read it back)."""
    if isinstance(value, dict):
        return {k: _to_plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_plain(v) for v in value]
    return value


def list_presets() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def read_yaml(path: Path) -> dict[str, Any]:
    """Read a YAML mapping, with errors that name the file."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must hold a mapping with sections data/model/train, "
                          f"got {type(raw).__name__}")
    return raw


def resolve_preset(name_or_path: str) -> Path:
    """A preset name (``vae-mnist5k-mlp``) or a path to a YAML file."""
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or path.exists():
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        return path
    preset = PRESET_DIR / f"{name_or_path}.yaml"
    if not preset.is_file():
        raise ConfigError(f"unknown preset {name_or_path!r}; presets: {', '.join(list_presets())} "
                          "(or give a path to a .yaml file)")
    return preset


def parse_overrides(overrides: list[str]) -> dict[str, Any]:
    """``["model.latent_dim=8", "train.lr=1e-4"]`` -> nested dict, values parsed as YAML scalars."""
    nested: dict[str, Any] = {}
    for item in overrides:
        key, sep, text = item.removeprefix("--").partition("=")
        if not sep or not key:
            raise ConfigError(f"override {item!r} must look like --section.key=value "
                              "(for example --train.epochs=5)")
        try:
            value = yaml.safe_load(text) if text else ""
        except yaml.YAMLError:
            value = text
        node = nested
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r} conflicts with an earlier override of {part}")
        node[parts[-1]] = value
    return nested


def merge(base: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def config_from_dict(raw: dict[str, Any]) -> Config:
    """Build a :class:`Config`, choosing the model's config class from ``model.name``."""
    raw = dict(raw)
    model_raw = dict(raw.get("model") or {})
    name = model_raw.get("name", ModelConfig.name)
    if name not in MODELS:
        raise ConfigError(f"model.name: unknown model {name!r}; "
                          f"choices: {', '.join(sorted(MODELS))}")
    sections = {"data": DataConfig, "model": MODELS[name].Config, "train": TrainConfig}
    unknown = set(raw) - set(sections)
    if unknown:
        raise ConfigError(f"unknown config section(s) {sorted(unknown)}; valid: {list(sections)}")
    built = {key: build_dataclass(cls, raw.get(key) or {}, key) for key, cls in sections.items()}
    return Config(**built)


def read_preset(preset_or_path: str, _seen: tuple[str, ...] = ()) -> dict[str, Any]:
    """The raw dict of a preset or YAML file, with ``base: OTHER`` resolved: the file's keys
    are merged over those of preset (or file) OTHER, recursively."""
    path = resolve_preset(preset_or_path)
    raw = read_yaml(path)
    base = raw.pop("base", None)
    if base is None:
        return raw
    if str(path) in _seen:
        raise ConfigError(f"{path}: presets include each other in a cycle: {' -> '.join(_seen)}")
    return merge(read_preset(str(base), _seen + (str(path),)), raw)


def load_config(preset_or_path: str, overrides: list[str] | None = None) -> Config:
    raw = read_preset(preset_or_path)
    return config_from_dict(merge(raw, parse_overrides(overrides or [])))


def save_config(cfg: Config, path: Path) -> None:
    path.write_text(yaml.safe_dump(cfg.to_dict(), sort_keys=False))


def build_dataclass(cls: type, values: dict[str, Any], where: str) -> Any:
    """Instantiate dataclass ``cls`` from a dict, checking keys and coercing value types."""
    if not isinstance(values, dict):
        raise ConfigError(f"{where} must be a mapping of keys to values, got {values!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = set(values) - set(fields)
    if unknown:
        key = sorted(unknown)[0]
        raise ConfigError(f"unknown key {where}.{key}; valid keys in {where}: "
                          f"{', '.join(sorted(fields))}")
    kwargs = {key: _coerce(hints[key], value, f"{where}.{key}") for key, value in values.items()}
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as exc:  # a __post_init__ rejected a value
        raise ConfigError(f"{where}: {exc}") from None


def _coerce(hint: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(arg, value, key)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0] if errors else f"{key}: cannot be None")
    if dataclasses.is_dataclass(hint):
        return build_dataclass(hint, value, key)
    if origin is typing.Literal:
        if value not in args:
            choices = ", ".join(map(str, args))
            raise ConfigError(f"{key}: {value!r} is not valid; choices: {choices}")
        return value
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {value!r}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise ConfigError(f"{key}: expected {len(args)} values, got {value!r}")
            return tuple(_coerce(a, v, key) for a, v in zip(args, value))
        inner = args[0] if args else Any
        return origin(_coerce(inner, v, key) for v in value)
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {value!r}")
        return dict(value)
    if hint is Any:
        return value
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected true or false, got {value!r}")
    if hint is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        raise ConfigError(f"{key}: expected an integer, got {value!r}")
    if hint is float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        if isinstance(value, str):  # YAML 1.1 reads "1e-4" as a string
            try:
                return float(value)
            except ValueError:
                pass
        raise ConfigError(f"{key}: expected a number, got {value!r}")
    if hint is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            return str(value)
        raise ConfigError(f"{key}: expected a string, got {value!r}")
    raise ConfigError(f"{key}: unsupported config type {hint!r}")
