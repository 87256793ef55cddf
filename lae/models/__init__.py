"""Models, one file per method, found by name through a registry (no if/elif dispatch).

Every module in this package is imported once, so a new model file only needs its
``@register_model("name")`` decorator.

>>> from lae.models import MODELS
>>> "vae" in MODELS
True
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable

from lae.models.base import DataSpec, LatentModel, ModelConfig, StepOutput

MODELS: dict[str, type[LatentModel]] = {}


def register_model(name: str) -> Callable[[type[LatentModel]], type[LatentModel]]:
    """Class decorator: make a model available as ``model.name: <name>`` in configs."""

    def add(cls: type[LatentModel]) -> type[LatentModel]:
        if name in MODELS:
            raise ValueError(f"model {name!r} is registered twice")
        MODELS[name] = cls
        return cls

    return add


def build_model(cfg: ModelConfig, spec: DataSpec) -> LatentModel:
    return MODELS[cfg.name](cfg, spec)


for _module in pkgutil.iter_modules(__path__):
    if _module.name != "base":
        importlib.import_module(f"{__name__}.{_module.name}")

__all__ = ["MODELS", "DataSpec", "LatentModel", "ModelConfig", "StepOutput", "build_model",
           "register_model"]
