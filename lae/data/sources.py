"""Find a dataset's files on disk (fixed search order), or download them when allowed."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from lae.data.config import DataConfig
from lae.data.download import download_file
from lae.errors import DataError

ENV_DATA_DIR = "LAE_DATA_DIR"


@dataclass(frozen=True)
class RemoteFile:
    """One file a dataset needs.

    Attributes:
        name: file name as downloaded, e.g. ``"train-images-idx3-ubyte.gz"``.
        url: where to download it; None when it cannot be fetched automatically.
        alternatives: other local names that satisfy it (the uncompressed file, the extracted
            folder of an archive); searched after ``name``.
        sha256, md5: expected digests, verified after a download.
        decompressed: the digests are of the gunzipped content.
    """

    name: str
    url: str | None = None
    alternatives: tuple[str, ...] = ()
    sha256: str | None = None
    md5: str | None = None
    decompressed: bool = False

    def find_in(self, folder: Path) -> Path | None:
        """The first of ``name`` and ``alternatives`` present in ``folder``."""
        for candidate in (self.name, *self.alternatives):
            path = folder / candidate
            if path.exists():
                return path
        return None

    def describe(self) -> str:
        return " or ".join((self.name, *self.alternatives))


def _cache_root() -> Path:
    return Path.home() / ".cache" / "lae"


def search_dirs(cfg: DataConfig, name: str, system_dirs: Sequence[str] = ()) -> list[Path]:
    """Folders searched for dataset ``name``, in order.

    ``cfg.data_dir`` (and its ``<name>`` subfolder), ``$LAE_DATA_DIR/<name>``,
    ``$LAE_DATA_DIR``, ``~/.cache/lae/<name>``, then ``system_dirs`` (e.g. Debian packages).
    """
    dirs: list[Path] = []
    if cfg.data_dir:
        dirs += [Path(cfg.data_dir).expanduser(), Path(cfg.data_dir).expanduser() / name]
    env = os.environ.get(ENV_DATA_DIR)
    if env:
        dirs += [Path(env).expanduser() / name, Path(env).expanduser()]
    dirs.append(_cache_root() / name)
    dirs += [Path(d) for d in system_dirs]
    return list(dict.fromkeys(dirs))  # drop duplicates, keep order


def download_dir(cfg: DataConfig, name: str) -> Path:
    """Where downloads go: ``cfg.data_dir``, else ``$LAE_DATA_DIR/<name>``, else the cache."""
    if cfg.data_dir:
        return Path(cfg.data_dir).expanduser()
    env = os.environ.get(ENV_DATA_DIR)
    return Path(env).expanduser() / name if env else _cache_root() / name


def locate(
    cfg: DataConfig,
    name: str,
    files: Sequence[RemoteFile],
    *,
    system_dirs: Sequence[str] = (),
    how_to_get: str = "",
) -> list[Path]:
    """Paths of ``files`` (in order), all from the first folder that holds every one of them.

    When no folder does and ``cfg.download`` is set, the missing files are downloaded into
    :func:`download_dir` and verified.

    Raises:
        DataError: the files are not found (the message lists every folder searched and how to
            get the data), or a download fails.
    """
    folders = search_dirs(cfg, name, system_dirs)
    partial: list[str] = []
    for folder in folders:
        found = [f.find_in(folder) for f in files]
        if all(p is not None for p in found):
            return [p for p in found if p is not None]
        if any(p is not None for p in found):
            missing = ", ".join(f.name for f, p in zip(files, found, strict=True) if p is None)
            partial.append(f"{folder} has some files but lacks {missing}")
    if cfg.download:
        return _download_all(cfg, name, files, how_to_get)

    wanted = "; ".join(f.describe() for f in files)
    lines = [
        f"dataset {name!r} not found. Looked for: {wanted}",
        "in these folders, in order:",
        *(f"  {folder}" for folder in folders),
        *(f"note: {p}" for p in partial),
        "To get it:",
    ]
    if all(f.url is not None for f in files):
        lines.append(
            f"  pass --download (download=True) to fetch it into {download_dir(cfg, name)};"
        )
    lines.append(
        f"  or pass --data-dir PATH (data_dir=PATH), or set ${ENV_DATA_DIR}, "
        "to a folder holding the files."
    )
    if how_to_get:
        lines.append(f"  {how_to_get}")
    raise DataError("\n".join(lines))


def _download_all(
    cfg: DataConfig, name: str, files: Sequence[RemoteFile], how_to_get: str
) -> list[Path]:
    dest = download_dir(cfg, name)
    paths = []
    for f in files:
        existing = f.find_in(dest)
        if existing is not None:
            paths.append(existing)
            continue
        if f.url is None:
            raise DataError(
                f"{f.name} of dataset {name!r} cannot be downloaded automatically; put it in "
                f"{dest} or pass --data-dir PATH. {how_to_get}"
            )
        paths.append(
            download_file(
                f.url, dest / f.name, sha256=f.sha256, md5=f.md5, decompressed=f.decompressed
            )
        )
    return paths
