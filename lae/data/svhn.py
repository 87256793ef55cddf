"""SVHN cropped digits (``train_32x32.mat`` / ``test_32x32.mat``), read with scipy."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io

from lae.data.config import DataConfig, RawData
from lae.data.registry import register_dataset
from lae.data.sources import RemoteFile, locate
from lae.errors import DataError

BASE_URL = "http://ufldl.stanford.edu/housenumbers"
MD5 = {
    "train_32x32.mat": "e26dedcc434d2e4c54c9b2d4a06d8373",
    "test_32x32.mat": "eb5a983be6a315427106f1b164d9cef3",
}


def read_svhn_mat(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images uint8 [N, 3, 32, 32] and labels int64 [N] in 0..9 from an SVHN .mat file.

    The file stores X as [32, 32, 3, N] and y as [N, 1] with 1..10, where 10 means digit 0.
    """
    try:
        mat = scipy.io.loadmat(path)
    except (ValueError, OSError, TypeError) as e:
        raise DataError(f"{path}: not a readable MATLAB .mat file ({e})") from e
    if "X" not in mat or "y" not in mat:
        raise DataError(f"{path}: expected variables 'X' and 'y', found {sorted(mat)}")
    x, y = mat["X"], np.asarray(mat["y"]).reshape(-1).astype(np.int64)
    if x.ndim != 4 or x.shape[:3] != (32, 32, 3) or x.shape[3] != len(y):
        raise DataError(f"{path}: X has shape {x.shape} and y {len(y)} entries; "
                        "expected X [32, 32, 3, N] and N labels")
    if y.size and (y.min() < 1 or y.max() > 10):
        raise DataError(f"{path}: labels range {y.min()}..{y.max()}, expected 1..10")
    return np.ascontiguousarray(x.transpose(3, 2, 0, 1)), y % 10  # label 10 is digit 0


@register_dataset("svhn", "SVHN house numbers, 73k/26k 32x32 colour (download 240 MB)")
def load_svhn(cfg: DataConfig) -> RawData:
    files = [RemoteFile(name, f"{BASE_URL}/{name}", md5=md5) for name, md5 in MD5.items()]
    train_path, test_path = locate(cfg, "svhn", files)
    train_x, train_y = read_svhn_mat(train_path)
    test_x, test_y = read_svhn_mat(test_path)
    return RawData("image", train_x, train_y, test_x, test_y)
