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
import math
import re
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from lae.argtypes import COUNT_MAX, THREADS_MAX, NumberRangeError, decimal_number
from lae.data import DataConfig
from lae.errors import ConfigError
from lae.files import atomic_write
from lae.models import MODELS, ModelConfig

PRESET_DIR = Path(__file__).resolve().parents[1] / "configs"


MAX_SEED = 2**32 - 1


def _show(value: Any, limit: int = 80) -> str:
    """``repr(value)`` for an error message, shortened; an int too long to print is described."""
    try:
        text = repr(value)
    except ValueError:  # an int beyond sys.get_int_max_str_digits(), maybe inside a list
        if isinstance(value, int):
            return f"<an integer of about {int(value.bit_length() * 0.30103)} digits>"
        return f"<a {type(value).__name__} holding an integer too long to print>"
    return text if len(text) <= limit else text[: limit - 5] + " ...>"


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_finite_number(value: Any) -> bool:
    """An int, or a float that is neither NaN nor infinite (bools are not numbers here)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return False
    return isinstance(value, int) or math.isfinite(value)


COMPILE_MODES = ("default", "reduce-overhead", "max-autotune", "max-autotune-no-cudagraphs")


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
    # per-epoch AIS NLL (nll-ais) with this many temperatures and chains; 0 temperatures: off.
    # The IWAE bound uses each model's own proposal (the LAE's is hand-set), so only AIS
    # compares models' training curves.
    eval_ais_temps: int = 0
    eval_ais_chains: int = 4
    eval_batch_size: int = 250
    n_samples: int = 64  # images in the per-epoch sample grid
    keep_checkpoints: int = 3  # epoch checkpoints kept besides last.pt; 0 keeps all
    # Early stopping: stop after this many epochs without a better bound on the validation
    # split (data.val_size > 0; the test split never chooses when to stop) and keep the best
    # epoch as checkpoints/best.pt. The bound is the per-epoch AIS NLL when
    # eval_ais_temps > 0, else the model's own IWAE, short-run or ELBO bound. 0: off.
    patience: int = 0
    tensorboard: bool = False
    progress: bool = True  # tqdm bar with loss and images/s (on a terminal only)
    # torch.compile the model's log p(x, z) (the function every chain step and loss evaluates,
    # with its backward): fewer, fused kernels. compile_mode: torch.compile's mode ("default",
    # "reduce-overhead": CUDA graphs on a GPU, "max-autotune").
    compile: bool = False
    compile_mode: str = "default"
    # A chain whose acceptance stays below stall_acceptance for stall_steps steps (or whose step
    # size collapses) has stopped sampling: on_stall "error" stops the run, "warn" logs it.
    stall_steps: int = 200  # 0 turns the check off
    stall_acceptance: float = 0.01
    on_stall: str = "error"  # "error" or "warn"

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`ConfigError` naming the first invalid key and what it expects.

        Runs when the config is built, so a bad value fails before a run directory is made.
        """
        minimum = {  # integer key -> (smallest valid value, what it means)
            "epochs": (1, "the number of passes over the training set"),
            "batch_size": (1, "examples per optimiser step"),
            "num_threads": (0, "torch threads; 0 keeps torch's default"),
            "log_every": (1, "steps between metrics records"),
            "eval_size": (0, "test examples scored per epoch; 0 scores all"),
            "eval_k": (1, "importance samples of the per-epoch IWAE bound"),
            "eval_ais_temps": (0, "AIS temperatures of the per-epoch NLL; 0 is off"),
            "eval_ais_chains": (1, "AIS chains per example of the per-epoch NLL"),
            "eval_batch_size": (1, "examples per evaluation batch"),
            "n_samples": (1, "images in the per-epoch sample grid"),
            "keep_checkpoints": (0, "epoch checkpoints kept; 0 keeps all"),
            "patience": (0, "epochs without a better validation bound before stopping; 0 is off"),
            "stall_steps": (0, "low-acceptance steps before a chain counts as stalled; 0 is off"),
        }
        for key, (low, meaning) in minimum.items():
            value = getattr(self, key)
            high = THREADS_MAX if key == "num_threads" else COUNT_MAX
            if not _is_int(value) or value < low or value > high:
                raise ConfigError(f"train.{key}={_show(value)} is not valid; expected an integer "
                                  f"in {low}..{high} ({meaning})")
        if not _is_int(self.seed) or not 0 <= self.seed <= MAX_SEED:
            raise ConfigError(f"train.seed={_show(self.seed)} is not valid; expected an integer in "
                              f"0..{MAX_SEED}")
        if not _is_finite_number(self.lr) or self.lr <= 0:
            raise ConfigError(f"train.lr={_show(self.lr)} is not valid; expected a finite "
                              "number > 0")
        clip = self.grad_clip
        if not _is_finite_number(clip) or clip < 0:
            raise ConfigError(f"train.grad_clip={_show(clip)} is not valid; expected a finite "
                              "number >= 0 (0 turns clipping off)")
        betas = self.adam_betas
        if (not isinstance(betas, (tuple, list)) or len(betas) != 2
                or not all(_is_finite_number(b) and 0 <= b < 1 for b in betas)):
            raise ConfigError(f"train.adam_betas={_show(betas)} is not valid; expected two numbers "
                              "in [0, 1), e.g. [0.9, 0.999]")
        low = self.stall_acceptance
        if not _is_finite_number(low) or not 0 <= low < 1:
            raise ConfigError(f"train.stall_acceptance={_show(low)} is not valid; expected a "
                              "number in [0, 1)")
        for key in ("optimizer", "device", "on_stall"):
            if not isinstance(getattr(self, key), str):
                raise ConfigError(f"train.{key}={_show(getattr(self, key))} is not valid; expected "
                                  "a string")
        if self.compile_mode not in COMPILE_MODES:
            raise ConfigError(f"train.compile_mode={_show(self.compile_mode)} is not valid; "
                              f"expected one of {', '.join(COMPILE_MODES)}")
        for key in ("tensorboard", "progress", "compile"):
            if not isinstance(getattr(self, key), bool):
                raise ConfigError(f"train.{key}={_show(getattr(self, key))} is not valid; expected "
                                  "true or false")


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


def preset_description(name: str) -> str:
    """The comment block at the top of preset ``name``'s YAML, without the ``#`` marks."""
    lines = []
    for line in (PRESET_DIR / f"{name}.yaml").read_text().splitlines():
        if not line.startswith("#"):
            break
        lines.append(line.lstrip("#").strip())
    return " ".join(lines)


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (PyYAML keeps the last
    silently, so a typo'd second ``lr:`` would override the first unseen)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key == "<<":  # merge keys may repeat by design
                continue
            try:
                first = seen.get(key)
                seen.setdefault(key, key_node.start_mark.line + 1)
            except TypeError:  # an unhashable key: the base class reports it
                continue
            if first is not None:  # also twice on one line: {name: a, name: b}
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice (first on line {first})",
                    key_node.start_mark)
        return super().construct_mapping(node, deep=deep)


# YAML 1.1 (PyYAML) reads 010 as octal 8, 1:30 as base-60 90 and 1_0 as 10: a padded,
# clock-like or mistyped number would configure another value without a word. Here only plain
# decimal (and 0x, 0b) spellings are numbers; the others stay text, which a count refuses by name
# and a text setting keeps (data.scale: 01).
_INT, _FLOAT = "tag:yaml.org,2002:int", "tag:yaml.org,2002:float"
_UniqueKeyLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag not in (_INT, _FLOAT)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()}
_UniqueKeyLoader.add_implicit_resolver(_INT, re.compile(
    r"^(?:[-+]?0b[0-1]+|[-+]?(?:0|[1-9][0-9]*)|[-+]?0x[0-9a-fA-F]+)$"), list("-+0123456789"))
_UniqueKeyLoader.add_implicit_resolver(_FLOAT, re.compile(
    r"^(?:[-+]?(?:[0-9][0-9]*)\.[0-9]*(?:[eE][-+][0-9]+)?|\.[0-9][0-9]*(?:[eE][-+][0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"), list("-+0123456789."))


def read_yaml(path: Path, allow_empty: bool = False) -> dict[str, Any]:
    """Read a YAML mapping, with errors that name the file: a key given twice in one mapping,
    and (unless ``allow_empty``) an empty file, are errors."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read config file {path}: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not a UTF-8 text file ({exc.reason} at byte "
                          f"{exc.start}); expected a YAML config") from None
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    except RecursionError:
        raise ConfigError(f"{path}: YAML nested too deeply to read; expected a mapping "
                          "with sections data/model/train") from None
    except ValueError as exc:  # e.g. an integer too long to convert
        raise ConfigError(f"{path}: a value cannot be read: {exc}") from None
    if raw is None or raw == {}:
        if allow_empty:
            return {}
        raise ConfigError(f"{path} is empty; expected a mapping with sections data/model/train "
                          f"(a preset's YAML in lae/configs/ shows them)")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path} must hold a mapping with sections data/model/train, "
                          f"got {type(raw).__name__}")
    return raw


def resolve_preset(name_or_path: str) -> Path:
    """A preset name (``vae-mnist5k-mlp``) or a path to a YAML file."""
    if not isinstance(name_or_path, str) or not name_or_path or "\0" in name_or_path:
        raise ConfigError(f"config {name_or_path!r} is not a preset name or a path to a .yaml "
                          f"file; presets: {', '.join(list_presets())}")
    path = Path(name_or_path)
    if path.suffix in (".yaml", ".yml") or _exists(path):
        if not _exists(path):
            raise ConfigError(f"config file {path} does not exist")
        if not path.is_file():
            raise ConfigError(f"config file {path} is not a file; expected a .yaml file")
        return path
    preset = PRESET_DIR / f"{name_or_path}.yaml"
    if not _exists(preset) or not preset.is_file():
        raise ConfigError(f"unknown preset {name_or_path!r}; presets: {', '.join(list_presets())} "
                          "(or give a path to a .yaml file)")
    return preset


def _exists(path: Path) -> bool:
    """``path.exists()``, False where the name cannot even be looked up (too long, say)."""
    try:
        return path.exists()
    except (OSError, ValueError):
        return False


def parse_overrides(overrides: list[str]) -> dict[str, Any]:
    """``["model.latent_dim=8", "train.lr=1e-4"]`` -> nested dict, values parsed as YAML scalars
    (a key given again replaces the earlier value: lists built in code add to a shared one; the
    command line refuses that, :func:`refuse_repeated_overrides`)."""
    nested: dict[str, Any] = {}
    for item in overrides:
        if not isinstance(item, str):
            raise ConfigError(f"override {_show(item)} must be a string like --section.key=value")
        key, sep, text = item.removeprefix("--").partition("=")
        if not sep or not key:
            raise ConfigError(f"override {_show(item)} must look like --section.key=value "
                              "(for example --train.epochs=5)")
        try:
            value = yaml.load(text, Loader=_UniqueKeyLoader) if text else ""  # noqa: S506
        except (yaml.YAMLError, RecursionError, ValueError):  # not YAML: the text itself
            value = text
        node = nested
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {_show(item)} conflicts with an earlier override "
                                  f"of {part}")
        node[parts[-1]] = value
    return nested


def refuse_repeated_overrides(overrides: list[str]) -> None:
    """A setting given twice on a command line, or beside one of its parts (``--model={}`` and
    ``--model.net.hidden=64``), is an error: which one wins is not what a user should have to
    know (:func:`parse_overrides` would take the last)."""
    given: list[str] = []
    for item in overrides:
        key = str(item).removeprefix("--").partition("=")[0]
        clash = next((k for k in given if k == key or k.startswith(key + ".")
                      or key.startswith(k + ".")), None)
        if clash is not None:
            raise ConfigError(f"override {_show(item)}: {'the same key' if clash == key else clash}"
                              f" is given {'twice' if clash == key else 'as well'}; give each "
                              f"setting once")
        given.append(key)


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
    if not isinstance(raw, dict):
        raise ConfigError(f"a config must be a mapping with sections data/model/train, got "
                          f"{type(raw).__name__}")
    raw = dict(raw)
    unknown = [key for key in raw if key not in ("data", "model", "train")]
    if unknown:
        raise ConfigError(f"unknown config section(s) "
                          f"[{', '.join(map(_show, _sorted_keys(unknown)))}]; "
                          "valid: ['data', 'model', 'train']")
    for key, value in raw.items():
        if value is not None and not isinstance(value, dict):
            raise ConfigError(f"{key} must be a mapping of keys to values, got {_show(value)}")
    model_raw = dict(raw.get("model") or {})
    name = model_raw.get("name", ModelConfig.name)
    if not isinstance(name, str) or name not in MODELS:
        raise ConfigError(f"model.name: unknown model {_show(name)}; "
                          f"choices: {', '.join(sorted(MODELS))}")
    sections = {"data": DataConfig, "model": MODELS[name].Config, "train": TrainConfig}
    built = {key: build_dataclass(cls, raw.get(key) or {}, key) for key, cls in sections.items()}
    return Config(**built)


def _sorted_keys(keys: Any) -> list[Any]:
    """Keys sorted for a message; YAML keys may mix types (1, "a", None), so by their repr."""
    return sorted(keys, key=_show)


def read_preset(preset_or_path: str, _seen: tuple[str, ...] = ()) -> dict[str, Any]:
    """The raw dict of a preset or YAML file, with ``base: OTHER`` resolved: the file's keys
    are merged over those of preset (or file) OTHER, recursively."""
    path = resolve_preset(preset_or_path)
    raw = read_yaml(path)
    base = raw.pop("base", None)
    if base is None:
        return raw
    if not isinstance(base, str) or not base.strip():  # "" would name the current folder
        raise ConfigError(f"{path}: base={_show(base)} is not valid; expected a preset name or "
                          "the path of a YAML file")
    if str(path) in _seen:
        raise ConfigError(f"{path}: presets include each other in a cycle: {' -> '.join(_seen)}")
    beside = path.parent / base  # a file named relative to the one that names it
    if base.endswith((".yaml", ".yml")) and not Path(base).is_absolute() and beside.is_file():
        base = str(beside)
    return merge(read_preset(str(base), _seen + (str(path),)), raw)


def load_config(preset_or_path: str, overrides: list[str] | None = None) -> Config:
    raw = read_preset(preset_or_path)
    return config_from_dict(merge(raw, parse_overrides(overrides or [])))


def save_config(cfg: Config, path: Path) -> None:
    """Write ``cfg`` to ``path`` as YAML, whole or not at all (a full disk keeps the old file)."""
    text = yaml.safe_dump(cfg.to_dict(), sort_keys=False).encode()
    atomic_write(path, lambda f: f.write(text))


def build_dataclass(cls: type, values: dict[str, Any], where: str) -> Any:
    """Instantiate dataclass ``cls`` from a dict, checking keys and coercing value types."""
    if not isinstance(values, dict):
        raise ConfigError(f"{where} must be a mapping of keys to values, got {_show(values)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = [key for key in values if key not in fields]
    if unknown:
        key = _sorted_keys(unknown)[0]
        key = key if isinstance(key, str) else _show(key)
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
        if type(value) in args:  # int | float keeps 500 a count and 0.1 a fraction
            return value
        errors = []
        for arg in (a for a in args if a is not type(None)):
            try:
                return _coerce(arg, value, key)
            except ConfigError as exc:
                errors.append(str(exc))
        # the last type's words: int | float says what a number must be, not "an integer"
        raise ConfigError(errors[-1] if errors else f"{key}: cannot be None")
    if dataclasses.is_dataclass(hint):
        return build_dataclass(hint, value, key)
    if origin is typing.Literal:
        if value not in args:
            choices = ", ".join(map(str, args))
            raise ConfigError(f"{key}: {_show(value)} is not valid; choices: {choices}")
        return value
    if origin in (tuple, list):
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{key}: expected a list, got {_show(value)}")
        if origin is tuple and args and args[-1] is not Ellipsis:
            if len(value) != len(args):
                raise ConfigError(f"{key}: expected {len(args)} values, got {_show(value)}")
            return tuple(_coerce(a, v, key) for a, v in zip(args, value))
        inner = args[0] if args else Any
        return origin(_coerce(inner, v, key) for v in value)
    if origin is dict or hint is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"{key}: expected a mapping, got {_show(value)}")
        return dict(value)
    if hint is Any:
        return value
    if hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"{key}: expected true or false, got {_show(value)}")
    if hint is int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, str) and value.isascii() and value.lstrip("+-").isdigit():  # 010
            zero = len(value.lstrip("+-")) > 1 and value.lstrip("+-").startswith("0")
            raise ConfigError(f"{key}: expected an integer, got {_show(value)}: write it "
                              f"{'without the leading zero' if zero else 'without quotes'} "
                              f"({int(value)})")
        if not isinstance(value, int) or isinstance(value, bool):
            wide = isinstance(value, str) and not value.isascii()
            raise ConfigError(f"{key}: expected an integer, got {_show(value)}"
                              + (" (characters outside ASCII: write ASCII digits)" if wide else ""))
        # every count (steps, sizes, widths) has a ceiling: a few more digits would run for
        # weeks without a word (seeds have their own range)
        if abs(value) > COUNT_MAX and not key.endswith("seed"):
            raise ConfigError(f"{key}={_show(value)} is too large; expected at most {COUNT_MAX}")
        return value
    if hint is float:
        try:
            number = decimal_number(value)
        except NumberRangeError as exc:
            raise ConfigError(f"{key}: {_show(value)} is {exc}") from None
        if number is None or math.isnan(number):
            wide = isinstance(value, str) and not value.isascii()
            raise ConfigError(f"{key}: expected a number, got {_show(value)}"
                              + (" (characters outside ASCII: write ASCII digits)" if wide else ""))
        return number
    if hint is str:
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            try:
                return str(value)
            except ValueError:  # an int too long to print
                raise ConfigError(f"{key}: expected a string, got {_show(value)}") from None
        why = (" (YAML reads yes, no, on, off, true and false as a truth value: quote a word "
               "meant as text)" if isinstance(value, bool) else "")
        raise ConfigError(f"{key}: expected a string, got {_show(value)}{why}")
    raise ConfigError(f"{key}: unsupported config type {hint!r}")
