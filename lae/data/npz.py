"""Your own data as one ``.npz`` file: ``lae train ... --data.name=npz --data.path=FILE.npz``.

Keys: ``x_train`` and ``x_test`` (required; ``x_test`` alone serves ``lae anomaly --against npz``),
``y_train`` and ``y_test`` (optional integer labels).

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

import lzma
import math
import stat
import struct
import zipfile
import zlib
from pathlib import Path

import numpy as np

from lae.data.config import DataConfig, RawData
from lae.data.registry import register_dataset
from lae.errors import ConfigError, DataError

EXPECTED = ("an .npz archive (written by numpy.savez) with arrays x_train, x_test and "
            "optionally y_train, y_test")
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # a zip's first local header, or an empty zip
_NPY_MAGIC = b"\x93NUMPY"
# What reading a damaged zip archive raises (zipfile and its decompressors report corrupt data
# in several ways; the .npy header parser raises ValueError).
# IndexError: zipfile's parser of a member's "extra" field indexes past short fields.
ZIP_READ_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, lzma.LZMAError, EOFError,
                   OSError, ValueError, IndexError, OverflowError, NotImplementedError,
                   RuntimeError, struct.error)


def _check_file(path: Path) -> None:
    """DataError unless ``path`` is an existing regular file that starts like a zip archive."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise DataError(f"data.path: {path} does not exist (expected {EXPECTED}); if the file "
                        f"of a trained run moved, give its new place: lae train --resume "
                        f"--data.path=FILE, lae eval --data-path FILE") from None
    except (OSError, ValueError) as exc:  # a name too long, a NUL byte, no permission
        raise DataError(f"data.path: cannot access {path}: {exc}") from None
    if stat.S_ISDIR(mode):
        raise DataError(f"data.path: {path} is a directory; expected a file: {EXPECTED}")
    if not stat.S_ISREG(mode):
        raise DataError(f"data.path: {path} is not a regular file; expected {EXPECTED}")
    try:
        with path.open("rb") as f:
            head = f.read(len(_NPY_MAGIC))
    except OSError as exc:
        raise DataError(f"data.path: cannot read {path}: {exc}") from None
    if not head.startswith(_ZIP_MAGIC):
        hint = (" It is a single .npy array: save your arrays with "
                "numpy.savez(file, x_train=..., x_test=...)." if head == _NPY_MAGIC else "")
        raise DataError(f"data.path: {path} is not an .npz archive (it is not a zip file); "
                        f"expected {EXPECTED}.{hint}")


def _read_member(zf: zipfile.ZipFile, info: zipfile.ZipInfo, path: Path, key: str) -> np.ndarray:
    """The .npy array stored as ``info``; no pickled objects, sizes checked before reading."""
    with zf.open(info) as f:
        if f.read(len(_NPY_MAGIC)) != _NPY_MAGIC:
            raise DataError(f"{path}: member {info.filename} is not a .npy array")
        f.seek(0)
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(f)
        elif version == (2, 0):
            shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(f)
        else:
            raise DataError(f"{path}: array {key} has .npy format version {version}; expected "
                            "1.0 or 2.0 (numeric arrays as numpy.savez writes them)")
        if dtype.hasobject or dtype.kind not in "biufc":
            raise DataError(f"{path}: array {key} has dtype {dtype}; expected numbers (integer "
                            "or float), not strings, records or Python objects")
        if any(d < 0 for d in shape):
            raise DataError(f"{path}: array {key} has the invalid shape {shape}")
        nbytes = math.prod(shape) * dtype.itemsize
        available = info.file_size - f.tell()
        if nbytes > available:
            raise DataError(f"{path}: array {key} is truncated: shape {shape} of {dtype} needs "
                            f"{nbytes} bytes, the archive holds {max(available, 0)}")
        data = f.read(nbytes)
    if len(data) != nbytes:
        raise DataError(f"{path}: array {key} is truncated: shape {shape} of {dtype} needs "
                        f"{nbytes} bytes, the archive holds {len(data)}")
    order = "F" if fortran_order else "C"
    return np.frombuffer(bytearray(data), dtype=dtype).reshape(shape, order=order)


def _read(path: Path) -> dict[str, np.ndarray]:
    """Every array of the .npz file ``path``, by name; DataError naming the file otherwise."""
    _check_file(path)
    arrays: dict[str, np.ndarray] = {}
    try:
        with zipfile.ZipFile(path) as zf:
            members = [i for i in zf.infolist() if not i.is_dir()]
            for info in members:
                if info.filename.endswith(".npy"):
                    key = info.filename.removesuffix(".npy")
                    arrays[key] = _read_member(zf, info, path, key)
    except ZIP_READ_ERRORS as exc:
        raise DataError(f"{path} is not a readable .npz archive: {exc}") from None
    if not arrays:
        held = (f"; it is a zip holding {', '.join(i.filename for i in members[:5])}"
                f"{' ...' if len(members) > 5 else ''}" if members else "")
        raise DataError(f"{path} holds no arrays{held}; expected {EXPECTED}")
    return arrays


def _check_arrays(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Every example array non-empty and finite; DataError naming the file and array."""
    for key in ("x_train", "x_test", "y_train", "y_test"):
        if key not in arrays:
            continue
        a = arrays[key]
        if key.startswith("x") and (a.ndim == 0 or a.shape[0] == 0):
            raise DataError(f"{path}: {key} has shape {a.shape}, which holds no examples; "
                            "expected at least one")
        if a.dtype.kind in "fc":
            bad = int(np.count_nonzero(~np.isfinite(a)))
            if bad:
                raise DataError(f"{path}: {key} has {bad} non-finite values (NaN or inf) among "
                                f"{a.size}; expected finite numbers")


@register_dataset("npz", "your own data: one .npz file given by data.path (x_train, x_test, "
                         "optional y_train, y_test)", reads=("path",))
def load_npz(cfg: DataConfig) -> RawData:
    if not cfg.path:
        raise ConfigError("data.name=npz needs data.path=FILE.npz")
    try:
        path = Path(cfg.path).expanduser()
    except RuntimeError:  # "~user" of an unknown user
        path = Path(cfg.path)
    arrays = _read(path)
    if "x_test" not in arrays:
        raise DataError(f"{path} lacks key 'x_test'; it has {sorted(arrays)}")
    _check_arrays(path, arrays)
    # without x_train the file serves only where test images are all that is read (lae anomaly
    # --against npz); training on it says that its training split is empty (load_dataset)
    x_test = arrays["x_test"]
    x_train = arrays.get("x_train", x_test[:0])
    if x_train.ndim == 2 and np.issubdtype(x_train.dtype, np.floating):
        kind = "points"
    elif x_train.ndim in (3, 4):
        kind = "image"
    else:
        raise DataError(f"{path}: x_train has shape {x_train.shape} and dtype {x_train.dtype}; "
                        "expected images [N, H, W] / [N, C, H, W] with values 0..255, or float "
                        "points [N, D]")
    if x_test.ndim != x_train.ndim:
        raise DataError(f"{path}: x_test has shape {x_test.shape} but x_train {x_train.shape}; "
                        "expected the same number of dimensions")
    if kind == "points":
        for key, x in (("x_train", x_train), ("x_test", x_test)):
            big = int(np.count_nonzero(np.abs(x) > np.finfo(np.float32).max))
            if big:
                raise DataError(f"{path}: {key} has {big} values beyond the float32 range "
                                "(about 3.4e38); expected finite float32 numbers")
    if kind == "image":
        # Grey images [N, H, W] get their channel axis.
        x_train, x_test = (x[:, None] if x.ndim == 3 else x for x in (x_train, x_test))
    return RawData(kind, x_train, arrays.get("y_train"), x_test, arrays.get("y_test"))
