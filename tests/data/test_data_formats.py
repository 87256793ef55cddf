"""CIFAR-10, SVHN and CelebA readers on tiny synthetic files in the real formats."""

from __future__ import annotations

import io
import pickle
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch
from PIL import Image

from lae.data import DataConfig, load_dataset
from lae.errors import DataError


def _cifar_batch(n: int, seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    data = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    return pickle.dumps({b"data": data, b"labels": list(rng.integers(0, 10, n))})


def _write_cifar_tar(path: Path, n_per_batch: int = 4) -> None:
    """cifar-10-python.tar.gz layout: cifar-10-batches-py/data_batch_1..5, test_batch."""
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    with tarfile.open(path, "w:gz") as tar:
        for seed, name in enumerate(names):
            raw = _cifar_batch(n_per_batch, seed)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(raw)
            tar.addfile(info, io.BytesIO(raw))


def test_cifar10_from_tar(tmp_path):
    _write_cifar_tar(tmp_path / "cifar-10-python.tar.gz")
    s = load_dataset(DataConfig(name="cifar10", data_dir=str(tmp_path)))
    assert s.shape == (3, 32, 32) and (len(s.train), len(s.test)) == (20, 4)
    # Row-major CHW layout: the first 1024 bytes are the red plane.
    first = pickle.loads(_cifar_batch(4, 0))[b"data"][0]
    assert torch.equal(s.train[0, 0].flatten(), torch.tensor(first[:1024] / 255.0).float())


def test_cifar10_from_extracted_folder_and_missing_batch(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "test_batch").write_bytes(_cifar_batch(3, 0))
    with pytest.raises(DataError, match="data_batch_1 is missing"):
        load_dataset(DataConfig(name="cifar10", data_dir=str(tmp_path)))
    for i in range(1, 6):
        (folder / f"data_batch_{i}").write_bytes(_cifar_batch(2, i))
    assert len(load_dataset(DataConfig(name="cifar10", data_dir=str(tmp_path))).train) == 10


def test_cifar10_bad_batch(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / name).write_bytes(pickle.dumps({b"data": np.zeros((2, 10), np.uint8),
                                                  b"labels": [0, 1]}))
    with pytest.raises(DataError, match=r"data_batch_1: data has shape \(2, 10\)"):
        load_dataset(DataConfig(name="cifar10", data_dir=str(tmp_path)))


def _write_svhn(path: Path, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = rng.integers(0, 256, (32, 32, 3, n), dtype=np.uint8)
    y = (np.arange(n) % 10 + 1).reshape(n, 1)  # 1..10, 10 = digit 0
    scipy.io.savemat(path, {"X": x, "y": y})
    return x


def test_svhn(tmp_path):
    x = _write_svhn(tmp_path / "train_32x32.mat", 12, 0)
    _write_svhn(tmp_path / "test_32x32.mat", 5, 1)
    s = load_dataset(DataConfig(name="svhn", data_dir=str(tmp_path), scale="-11"))
    assert s.shape == (3, 32, 32) and (len(s.train), len(s.test)) == (12, 5)
    assert s.train_labels.tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2]
    expected = torch.from_numpy(x[:, :, :, 3].transpose(2, 0, 1)).float() * (2 / 255) - 1
    assert torch.allclose(s.train[3], expected, atol=1e-6)


def test_svhn_bad_file(tmp_path):
    scipy.io.savemat(tmp_path / "train_32x32.mat", {"X": np.zeros((4, 4))})
    _write_svhn(tmp_path / "test_32x32.mat", 2, 0)
    with pytest.raises(DataError, match=r"train_32x32\.mat: expected variables 'X' and 'y'"):
        load_dataset(DataConfig(name="svhn", data_dir=str(tmp_path)))


def _jpeg(seed: int) -> bytes:
    rng = np.random.default_rng(seed)
    buf = io.BytesIO()
    Image.fromarray(rng.integers(0, 256, (218, 178, 3), dtype=np.uint8)).save(buf, "JPEG")
    return buf.getvalue()


def test_celeba_folder_partition_and_cache(tmp_path):
    folder = tmp_path / "img_align_celeba"
    folder.mkdir()
    names = [f"{i:06d}.jpg" for i in range(1, 7)]
    for i, name in enumerate(names):
        (folder / name).write_bytes(_jpeg(i))
    (tmp_path / "list_eval_partition.txt").write_text(
        "".join(f"{n} {p}\n" for n, p in zip(names, [0, 0, 0, 1, 2, 2], strict=True))
    )
    s = load_dataset(DataConfig(name="celeba", data_dir=str(tmp_path)))
    assert s.shape == (3, 64, 64) and (len(s.train), len(s.test)) == (4, 2)
    assert s.train_labels is None
    caches = list(tmp_path.glob("celeba64_*.pt"))
    assert len(caches) == 1
    # A second load reads the cache: poison it to prove it is used.
    torch.save({"images": torch.zeros(6, 3, 64, 64, dtype=torch.uint8)}, caches[0])
    assert load_dataset(DataConfig(name="celeba", data_dir=str(tmp_path))).train.sum() == 0


def test_celeba_zip_without_partition_uses_last_tenth(tmp_path):
    with zipfile.ZipFile(tmp_path / "img_align_celeba.zip", "w") as zf:
        for i in range(10):
            zf.writestr(f"img_align_celeba/{i + 1:06d}.jpg", _jpeg(i))
    s = load_dataset(DataConfig(name="celeba", data_dir=str(tmp_path)))
    assert (len(s.train), len(s.test)) == (9, 1)
    assert (tmp_path / "img_align_celeba" / "000010.jpg").exists()


def test_celeba_missing_mentions_manual_download(tmp_path):
    with pytest.raises(DataError, match="Google Drive"):
        load_dataset(DataConfig(name="celeba", data_dir=str(tmp_path)))
