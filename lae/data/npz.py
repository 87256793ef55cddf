"""Your own data as one ``.npz`` file: ``lae train ... --data.name=npz --data.path=FILE.npz``.

Keys: ``x_train`` and ``x_test`` (required), ``y_train`` and ``y_test`` (optional integer labels).

- Images: uint8 (or integer-valued) arrays [N, H, W] (grey) or [N, C, H, W] with values 0..255;
  they get the same binarisation / scaling options as the built-in image datasets.
- Points: float arrays [N, D], used as they are (no scaling), like the 2-D toys.

Example::

    >>> import numpy as np, tempfile, os
    >>> from lae.data import DataConfig, load_dataset
    >>> f = os.path.join(tempfile.mkdtemp(), "mine.npz")
    >>> rng = np.random.default_rng(0)
    >>> np.savez(f, x_train=rng.integers(0, 256, (40, 8, 8), dtype=np.uint8),
    ...          x_test=rng.integers(0, 256, (10, 8, 8), dtype=np.uint8))
    >>> load_dataset(DataConfig(name="npz", path=f)).shape
    (1, 8, 8)
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np

from lae.data.config import DataConfig, RawData
from lae.data.registry import register_dataset
from lae.errors import ConfigError, DataError


def _read(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise DataError(f"data.path: {path} does not exist (expected an .npz file with keys "
                        "x_train, x_test and optionally y_train, y_test)")
    try:
        with np.load(path, allow_pickle=False) as archive:
            return {key: archive[key] for key in archive.files}
    except (zipfile.BadZipFile, ValueError, OSError) as exc:
        raise DataError(f"{path} is not a readable .npz file: {exc}") from None


@register_dataset("npz", "your own data: one .npz file given by data.path (x_train, x_test, "
                         "optional y_train, y_test)")
def load_npz(cfg: DataConfig) -> RawData:
    if not cfg.path:
        raise ConfigError("data.name=npz needs data.path=FILE.npz")
    path = Path(cfg.path).expanduser()
    arrays = _read(path)
    missing = {"x_train", "x_test"} - set(arrays)
    if missing:
        raise DataError(f"{path} lacks key(s) {sorted(missing)}; it has {sorted(arrays)}")
    x_train, x_test = arrays["x_train"], arrays["x_test"]
    if x_train.ndim == 2 and np.issubdtype(x_train.dtype, np.floating):
        kind = "points"
    elif x_train.ndim in (3, 4):
        kind = "image"
        # Grey images [N, H, W] get their channel axis.
        x_train, x_test = (x[:, None] if x.ndim == 3 else x for x in (x_train, x_test))
    else:
        raise DataError(f"{path}: x_train has shape {x_train.shape} and dtype {x_train.dtype}; "
                        "expected images [N, H, W] / [N, C, H, W] with values 0..255, or float "
                        "points [N, D]")
    return RawData(kind, x_train, arrays.get("y_train"), x_test, arrays.get("y_test"))
