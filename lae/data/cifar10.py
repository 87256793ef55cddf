"""CIFAR-10, python pickle version (``cifar-10-python.tar.gz`` or its extracted folder)."""

from __future__ import annotations

import codecs
import io
import pickle
import tarfile
import zlib
from pathlib import Path

import numpy as np

from lae.data.config import DataConfig, RawData
from lae.data.registry import FILES, register_dataset
from lae.data.sources import RemoteFile, locate
from lae.errors import DataError, LaeError

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
MD5 = "c58f30108f718f92721af3b95e74349a"
FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"


def _latin1_encode(text: str, encoding: str = "utf-8") -> bytes:
    """``_codecs.encode`` as protocol-2 pickles use it for bytes, limited to latin-1."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError(f"_codecs.encode({type(text).__name__}, {encoding!r})")
    return codecs.encode(text, "latin1")


# The only globals a CIFAR-10 batch (dicts, lists, bytes and numpy arrays; written by numpy 1.x
# or 2.x, pickle protocols 2 to 5) refers to. Anything else could run code when unpickled.
_SAFE_GLOBALS = {
    **{(module, "_reconstruct"): np.zeros(1).__reduce__()[0]
       for module in ("numpy.core.multiarray", "numpy._core.multiarray")},
    **{(module, "scalar"): np.int64(0).__reduce__()[0]
       for module in ("numpy.core.multiarray", "numpy._core.multiarray")},
    **{(module, "_frombuffer"): np.zeros(1).__reduce_ex__(5)[0]
       for module in ("numpy.core.numeric", "numpy._core.numeric")},
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): np.dtype,
    ("_codecs", "encode"): _latin1_encode,
}


class _BatchUnpickler(pickle.Unpickler):
    """An unpickler that builds only containers, numbers, bytes and numpy arrays."""

    def __init__(self, raw: bytes, where: str) -> None:
        super().__init__(io.BytesIO(raw), encoding="bytes")
        self.where = where

    def find_class(self, module: str, name: str) -> object:
        try:
            return _SAFE_GLOBALS[(module, name)]
        except KeyError:
            raise DataError(
                f"{self.where}: refusing to unpickle: it refers to {module}.{name}, which a "
                "CIFAR-10 batch does not contain (a pickle naming other code can run it); "
                "expected a pickled dict of numpy arrays and lists"
            ) from None

    def persistent_load(self, pid: object) -> object:
        raise DataError(f"{self.where}: refusing to unpickle a persistent id; expected a "
                        "pickled dict of numpy arrays and lists")


def _parse_batch(raw: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 [N, 3, 32, 32] and labels int64 [N] from one pickled batch.

    Pickle is the official format. It is read with :class:`_BatchUnpickler`, which refuses
    every global but numpy's array constructors, so a tampered file cannot run code.
    """
    expected = "expected a pickled dict with b'data' (uint8 [N, 3072]) and b'labels' (N ints)"
    try:
        batch = _BatchUnpickler(raw, where).load()
    except LaeError:
        raise
    except Exception as e:  # damaged pickles raise almost anything (pickle docs)
        raise DataError(f"{where}: not a CIFAR-10 batch: unreadable pickle ({e!r}); "
                        f"{expected}") from None
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        keys = sorted(map(repr, batch))[:10] if isinstance(batch, dict) else None
        found = f"a dict with keys {keys}" if keys is not None else type(batch).__name__
        raise DataError(f"{where}: not a CIFAR-10 batch: found {found}; {expected}")
    data, labels = batch[b"data"], batch[b"labels"]
    # Checked before any conversion: np.asarray of a nested list could take any time.
    if not isinstance(data, np.ndarray) or data.dtype.kind not in "biuf":
        what = f"dtype {data.dtype}" if isinstance(data, np.ndarray) else type(data).__name__
        raise DataError(f"{where}: b'data' is {what}; {expected}")
    if isinstance(labels, np.ndarray):
        labels_ok = labels.ndim == 1 and labels.dtype.kind in "iu"
        in_range = labels_ok and (labels.size == 0 or (labels.min() >= 0 and labels.max() <= 9))
    else:
        labels_ok = isinstance(labels, list) and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in labels)
        in_range = labels_ok and all(0 <= v <= 9 for v in labels)
    if not labels_ok:
        raise DataError(f"{where}: b'labels' is not a list of integers; {expected}")
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(data) != len(labels):
        raise DataError(f"{where}: data has shape {data.shape} and {len(labels)} labels; "
                        "expected [N, 3072] with N labels")
    if not in_range:
        raise DataError(f"{where}: labels outside 0..9")
    return data.reshape(-1, 3, 32, 32), np.asarray(labels, dtype=np.int64)


def _read_batches(path: Path, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenated batches ``names`` from the extracted folder or straight from the tar.gz."""
    parts = []
    if path.is_dir():
        for name in names:
            file = path / name
            if not file.is_file():
                raise DataError(f"{file} is missing; expected the batches {', '.join(names)}")
            try:
                raw = file.read_bytes()
            except OSError as e:
                raise DataError(f"cannot read {file}: {e}") from None
            parts.append(_parse_batch(raw, str(file)))
    else:
        try:
            with tarfile.open(path, "r:gz") as tar:
                for name in names:
                    member = f"{FOLDER}/{name}"
                    try:
                        info = tar.getmember(member)
                    except KeyError:
                        info = None
                    # Regular files only: following links in a damaged archive can loop.
                    f = tar.extractfile(info) if info is not None and info.isfile() else None
                    if f is None:
                        raise DataError(f"{path} has no file {member}")
                    parts.append(_parse_batch(f.read(), f"{path}:{member}"))
        except (tarfile.TarError, EOFError, OSError, zlib.error) as e:
            raise DataError(f"{path}: corrupt or unreadable tar.gz archive ({e})") from e
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


@register_dataset("cifar10", "CIFAR-10, 50k/10k 32x32 colour (download 163 MB)",
                  reads=FILES)
def load_cifar10(cfg: DataConfig) -> RawData:
    archive = RemoteFile("cifar-10-python.tar.gz", URL, alternatives=(FOLDER,), md5=MD5)
    (path,) = locate(cfg, "cifar10", [archive])
    train_x, train_y = _read_batches(path, TRAIN_BATCHES)
    test_x, test_y = _read_batches(path, (TEST_BATCH,))
    return RawData("image", train_x, train_y, test_x, test_y)
