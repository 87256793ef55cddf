"""SVHN cropped digits (``train_32x32.mat`` / ``test_32x32.mat``), read with scipy."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import numpy as np
import scipy.io

from lae.data.config import DataConfig, RawData
from lae.data.registry import FILES, register_dataset
from lae.data.sources import RemoteFile, locate
from lae.errors import DataError

BASE_URL = "http://ufldl.stanford.edu/housenumbers"
MD5 = {
    "train_32x32.mat": "e26dedcc434d2e4c54c9b2d4a06d8373",
    "test_32x32.mat": "eb5a983be6a315427106f1b164d9cef3",
}


# MAT v5 data type codes that scipy's reader has a dtype for; it indexes a C array with the
# code of a numeric data element unchecked, so any other code there crashes the interpreter
# (scipy issue: "reject out-of-range mdtype in mio5 element reader").
_MI_DATA = frozenset({1, 2, 3, 4, 5, 6, 7, 9, 12, 13, 16, 17, 18})
_MI_MATRIX, _MI_COMPRESSED = 14, 15
_MX_NUMERIC = range(6, 16)  # mxDOUBLE_CLASS .. mxUINT64_CLASS
_CHUNK = 1 << 20


class _Stop(Exception):
    """The file is malformed in a way scipy reports with an ordinary exception: stop checking."""


class _Stream:
    """Sequential bytes of a region of an open file, inflated when the region is zlib data."""

    def __init__(self, f, start: int, length: int, compressed: bool) -> None:
        self.f, self.pos, self.left = f, start, length
        self.inflater = zlib.decompressobj() if compressed else None
        self.buffer = b""

    def _raw(self, n: int) -> bytes:
        self.f.seek(self.pos)
        data = self.f.read(min(n, self.left))
        self.pos += len(data)
        self.left = self.left - len(data) if data else 0
        return data

    def read(self, n: int) -> bytes:
        """Exactly ``n`` bytes; _Stop where the data ends first (scipy fails there too)."""
        if self.inflater is None:
            data = self._raw(n)
        else:
            while len(self.buffer) < n and not self.inflater.eof:
                raw = self.inflater.unconsumed_tail or self._raw(_CHUNK)
                if not raw:
                    break
                try:
                    self.buffer += self.inflater.decompress(raw, max(n - len(self.buffer), 1))
                except zlib.error:
                    raise _Stop from None
            data, self.buffer = self.buffer[:n], self.buffer[n:]
        if len(data) < n:
            raise _Stop
        return data

    def skip(self, n: int, *, strict: bool = True) -> None:
        """Skip ``n`` bytes; past the end is _Stop when ``strict``, else where scipy's seek goes."""
        if self.inflater is None and n <= self.left:
            self.pos, self.left = self.pos + n, self.left - n
            return
        try:
            while n > 0:
                n -= len(self.read(min(n, _CHUNK)))
        except _Stop:
            if strict:
                raise


def _element(stream: _Stream, order: str, max_count: int | None = None, *,
             skip_data: bool = True) -> int:
    """Skip the next data element as scipy's ``read_element`` reads it; return its type code.

    ``skip_data=False`` reads only the tag (for the last element checked: no need to inflate
    the pixels).
    """
    code, count = struct.unpack(order + "II", stream.read(8))
    if code >> 16:  # small data element: count and type packed in the first 4 bytes
        if code >> 16 > 4:
            raise _Stop  # scipy: "Error in SDE format data"
        return code & 0xFFFF
    if max_count is not None and count > max_count:
        raise _Stop  # scipy: "Unexpected amount of data to read"
    if not skip_data:
        return code
    stream.skip(count)
    stream.skip(-count % 8, strict=False)  # scipy seeks over the padding without checking it
    return code


def _check_matrix(stream: _Stream, order: str, path: Path) -> None:
    """Check the variable whose miMATRIX content starts ``stream``, reading what scipy reads."""
    stream.read(8)  # the array flags' tag
    flags = struct.unpack(order + "I", stream.read(8)[:4])[0]
    mclass, is_complex = flags & 0xFF, flags >> 11 & 1
    if mclass not in _MX_NUMERIC:
        raise DataError(f"{path}: holds a MATLAB variable of class {mclass}; expected only "
                        "numeric arrays (X and y)")
    if _element(stream, order, max_count=128) not in (5, 6):  # dims: scipy raises for others
        raise _Stop
    if _element(stream, order) not in (1, 16):  # the name: scipy raises for other types
        raise _Stop
    n_parts = 2 if is_complex else 1  # real part, imaginary part
    for part in range(n_parts):
        code = _element(stream, order, skip_data=part < n_parts - 1)
        if code not in _MI_DATA:
            raise DataError(f"{path}: corrupt .mat file: a data element has the unknown type "
                            f"code {code}")


def _check_mat5(path: Path) -> None:
    """Reject what would crash scipy's MAT reader, and every format but MATLAB v5.

    Walks the variables the way ``scipy.io.loadmat`` reads them and checks the type code of
    every numeric data element it will look up. Files scipy rejects with an ordinary exception
    are left to it.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(128)
            if len(head) < 128 or 0 in head[:4]:
                raise DataError(f"{path}: not a MATLAB v5 .mat file (too short, or a v4 "
                                "header); expected SVHN's train_32x32.mat / test_32x32.mat")
            major = head[124 + int(head[126] == ord("I"))]
            if major == 2:
                raise DataError(f"{path}: a MATLAB v7.3 (HDF5) .mat file; expected v5 or v7 "
                                "(save with -v7), as SVHN distributes them")
            if major != 1:
                raise DataError(f"{path}: unknown .mat version {major}; expected MATLAB v5")
            order = "<" if head[126:128] == b"IM" else ">"
            size = f.seek(0, 2)
            pos = 128
            while pos + 8 <= size:
                f.seek(pos)
                code, count = struct.unpack(order + "II", f.read(8))
                if code not in (_MI_MATRIX, _MI_COMPRESSED) or count == 0:
                    return  # scipy raises TypeError / ValueError here
                stream = _Stream(f, pos + 8, size - pos - 8, compressed=code == _MI_COMPRESSED)
                if code == _MI_COMPRESSED:
                    stream.left = min(count, stream.left)
                    inner, inner_count = struct.unpack(order + "II", stream.read(8))
                    if inner != _MI_MATRIX:
                        return
                    if inner_count == 0:
                        raise _Stop
                _check_matrix(stream, order, path)
                pos += 8 + count
    except _Stop:
        return
    except OSError as e:
        raise DataError(f"cannot read {path}: {e}") from e


def read_svhn_mat(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 [N, 3, 32, 32] and labels int64 [N] in 0..9 from an SVHN .mat file.

    The file stores X as [32, 32, 3, N] and y as [N, 1] with 1..10, where 10 means digit 0.
    """
    _check_mat5(path)
    try:
        mat = scipy.io.loadmat(path)
    except OSError as e:
        raise DataError(f"{path}: not a readable MATLAB .mat file ({e})") from e
    except Exception as e:  # scipy's .mat parser raises many types on damaged files
        raise DataError(f"{path}: not a readable MATLAB .mat file ({type(e).__name__}: {e})") from e
    if "X" not in mat or "y" not in mat:
        raise DataError(f"{path}: expected variables 'X' and 'y', found {sorted(mat)}")
    x, y = mat["X"], mat["y"]
    if not isinstance(y, np.ndarray) or y.dtype.kind not in "iuf" or (
            y.dtype.kind == "f" and not np.all(np.isfinite(y) & (y == np.round(y)))):
        what = f"dtype {y.dtype}" if isinstance(y, np.ndarray) else type(y).__name__
        raise DataError(f"{path}: y is {what}; expected integer labels 1..10")
    y = y.reshape(-1)
    if y.size and (y.min() < 1 or y.max() > 10):
        raise DataError(f"{path}: labels range {y.min()}..{y.max()}, expected 1..10")
    y = y.astype(np.int64)
    if not isinstance(x, np.ndarray) or x.dtype.kind not in "iuf":
        what = f"dtype {x.dtype}" if isinstance(x, np.ndarray) else type(x).__name__
        raise DataError(f"{path}: X is {what}; expected pixels [32, 32, 3, N] with values 0..255")
    if x.ndim != 4 or x.shape[:3] != (32, 32, 3) or x.shape[3] != len(y):
        raise DataError(f"{path}: X has shape {x.shape} and y {len(y)} entries; "
                        "expected X [32, 32, 3, N] and N labels")
    return np.ascontiguousarray(x.transpose(3, 2, 0, 1)), y % 10  # label 10 is digit 0


@register_dataset("svhn", "SVHN house numbers, 73k/26k 32x32 colour (download 240 MB)",
                  reads=FILES)
def load_svhn(cfg: DataConfig) -> RawData:
    files = [RemoteFile(name, f"{BASE_URL}/{name}", md5=md5) for name, md5 in MD5.items()]
    train_path, test_path = locate(cfg, "svhn", files)
    train_x, train_y = read_svhn_mat(train_path)
    test_x, test_y = read_svhn_mat(test_path)
    return RawData("image", train_x, train_y, test_x, test_y)
