"""CIFAR-10, python pickle version (``cifar-10-python.tar.gz`` or its extracted folder)."""

from __future__ import annotations

import pickle
import tarfile
from pathlib import Path

import numpy as np

from lae.data.config import DataConfig, RawData
from lae.data.registry import register_dataset
from lae.data.sources import RemoteFile, locate
from lae.errors import DataError

URL = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
MD5 = "c58f30108f718f92721af3b95e74349a"
FOLDER = "cifar-10-batches-py"
TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_BATCH = "test_batch"


def _parse_batch(raw: bytes, where: str) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 [N, 3, 32, 32] and labels int64 [N] from one pickled batch."""
    # Pickle is the official format; the archive's md5 is checked when we download it.
    try:
        batch = pickle.loads(raw, encoding="bytes")
        data, labels = batch[b"data"], batch[b"labels"]
    except (pickle.UnpicklingError, EOFError, KeyError, TypeError, ValueError) as e:
        raise DataError(f"{where}: not a CIFAR-10 batch (expected a pickled dict with "
                        f"b'data' and b'labels'): {e!r}") from e
    data = np.asarray(data)
    labels = np.asarray(labels, dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3 * 32 * 32 or len(data) != len(labels):
        raise DataError(f"{where}: data has shape {data.shape} and {len(labels)} labels; "
                        "expected [N, 3072] with N labels")
    if labels.size and (labels.min() < 0 or labels.max() > 9):
        raise DataError(f"{where}: labels outside 0..9")
    return data.reshape(-1, 3, 32, 32), labels


def _read_batches(path: Path, names: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenated batches ``names`` from the extracted folder or straight from the tar.gz."""
    parts = []
    if path.is_dir():
        for name in names:
            file = path / name
            if not file.exists():
                raise DataError(f"{file} is missing; expected the batches {', '.join(names)}")
            parts.append(_parse_batch(file.read_bytes(), str(file)))
    else:
        try:
            with tarfile.open(path, "r:gz") as tar:
                for name in names:
                    member = f"{FOLDER}/{name}"
                    try:
                        f = tar.extractfile(member)
                    except KeyError:
                        f = None
                    if f is None:
                        raise DataError(f"{path} has no file {member}")
                    parts.append(_parse_batch(f.read(), f"{path}:{member}"))
        except (tarfile.TarError, EOFError, OSError) as e:
            raise DataError(f"{path}: corrupt or unreadable tar.gz archive ({e})") from e
    return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])


@register_dataset("cifar10", "CIFAR-10, 50k/10k 32x32 colour (download 163 MB)")
def load_cifar10(cfg: DataConfig) -> RawData:
    archive = RemoteFile("cifar-10-python.tar.gz", URL, alternatives=(FOLDER,), md5=MD5)
    (path,) = locate(cfg, "cifar10", [archive])
    train_x, train_y = _read_batches(path, TRAIN_BATCHES)
    test_x, test_y = _read_batches(path, (TEST_BATCH,))
    return RawData("image", train_x, train_y, test_x, test_y)
