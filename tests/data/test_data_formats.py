"""CIFAR-10, SVHN and CelebA readers on tiny synthetic files in the real formats."""

from __future__ import annotations

import io
import pickle
import struct
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
import scipy.io
import torch
from PIL import Image

from lae.data import DataConfig, celeba, load_dataset, svhn
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


class _RunsCode:
    """Unpickling this creates ``path``: stands for any code a tampered pickle could run."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


@pytest.mark.parametrize("protocol", [2, 5])
def test_cifar10_pickle_that_runs_code_is_refused(tmp_path, protocol):
    # pickle.loads used to run whatever a batch file named.
    marker = tmp_path / "ran"
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    evil = pickle.dumps({b"data": _RunsCode(marker), b"labels": [0]}, protocol=protocol)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / name).write_bytes(evil)
    with pytest.raises(DataError, match=r"data_batch_1: refusing to unpickle: it refers to "
                                        r"(builtins|_?io)\.open"):  # by Python version
        load_dataset(DataConfig(name="cifar10", data_dir=str(tmp_path)))
    assert not marker.exists()


@pytest.mark.parametrize("protocol", [0, 2, 4, 5])
def test_cifar10_batches_of_every_pickle_protocol_and_numpy_1_names_load(tmp_path, protocol):
    raw = pickle.dumps(pickle.loads(_cifar_batch(3, 0)), protocol=protocol)
    if protocol == 2:  # as numpy 1.x (and the official Python 2 files) name the constructor
        raw = raw.replace(b"numpy._core.multiarray", b"numpy.core.multiarray")
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / name).write_bytes(raw)
    assert len(load_dataset(DataConfig(name="cifar10", data_dir=str(tmp_path))).train) == 15


@pytest.mark.parametrize("batch,message", [
    ([1, 2], r"found list"),
    ({b"data": np.array([["a"] * 3072]), b"labels": [0]}, r"b'data' is dtype <U1"),
    ({b"data": np.zeros((1, 3072), np.uint8), b"labels": ["cat"]}, "b'labels' is not a list"),
    ({b"data": np.zeros((1, 3072), np.uint8), b"labels": [2**70]}, "labels outside 0..9"),
])
def test_cifar10_batch_of_the_wrong_kind_is_named(tmp_path, batch, message):
    # These raised KeyError / TypeError / ValueError / OverflowError tracebacks.
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        (folder / name).write_bytes(pickle.dumps(batch))
    with pytest.raises(DataError, match=rf"data_batch_1: .*{message}"):
        load_dataset(DataConfig(name="cifar10", data_dir=str(tmp_path)))


def test_cifar10_corrupt_gzip_inside_tar(tmp_path):
    _write_cifar_tar(tmp_path / "cifar-10-python.tar.gz")
    raw = bytearray((tmp_path / "cifar-10-python.tar.gz").read_bytes())
    at = len(raw) // 10
    raw[at : at + 16] = b"\xff" * 16  # inside data_batch_1's deflate data: zlib.error escaped
    (tmp_path / "cifar-10-python.tar.gz").write_bytes(bytes(raw))
    with pytest.raises(DataError, match=r"cifar-10-python\.tar\.gz: corrupt or unreadable"):
        load_dataset(DataConfig(name="cifar10", data_dir=str(tmp_path)))


def _svhn_with_data_type(path: Path, code: int) -> None:
    """An SVHN-style .mat whose X data element claims the (invalid) type ``code``."""
    buf = io.BytesIO()
    scipy.io.savemat(buf, {"X": np.zeros((32, 32, 3, 1), np.uint8), "y": np.array([[3]])})
    raw = bytearray(buf.getvalue())
    pos = 128 + 8 + 16  # first variable's content, after the array flags
    for _ in range(2):  # skip the dimensions and the name
        first, count = struct.unpack("<II", raw[pos:pos + 8])
        pos += 8 if first >> 16 else 8 + count + (-count % 8)
    assert struct.unpack("<I", raw[pos:pos + 4])[0] == 2  # miUINT8: X's pixels
    raw[pos:pos + 4] = struct.pack("<I", code)
    path.write_bytes(bytes(raw))


def test_svhn_unknown_data_type_is_a_data_error_not_a_crash(tmp_path):
    # scipy.io.loadmat indexes a C array with this code unchecked: a segfault, not an error.
    # Run in a child process so a regression cannot take pytest down with it.
    codes = [8, 14, 19, 12809]
    paths = [tmp_path / f"{code}" / "train_32x32.mat" for code in codes]
    for code, path in zip(codes, paths, strict=True):
        path.parent.mkdir()
        _svhn_with_data_type(path, code)
    script = ("import sys\nfrom lae.data.svhn import read_svhn_mat\nfrom lae.errors import "
              "DataError\nfor path in sys.argv[1:]:\n    try:\n        read_svhn_mat(path)\n"
              "    except DataError as e:\n        print(e)\n")
    done = subprocess.run([sys.executable, "-c", script, *map(str, paths)], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    for code in codes:
        assert (f"train_32x32.mat: corrupt .mat file: a data element has the unknown type code "
                f"{code}\n") in done.stdout


@pytest.mark.parametrize("head,message", [
    (b"\x00" * 200, "not a MATLAB v5 .mat file"),
    (b"M" * 124 + b"\x00\x02IM" + b"\x00" * 64, r"v7\.3 \(HDF5\)"),
])
def test_svhn_other_mat_versions_are_named(tmp_path, head, message):
    (tmp_path / "train_32x32.mat").write_bytes(head)
    with pytest.raises(DataError, match=rf"train_32x32\.mat: .*{message}"):
        svhn.read_svhn_mat(tmp_path / "train_32x32.mat")


@pytest.mark.parametrize("y,message", [
    (np.array(["a"]), "holds a MATLAB variable of class 4; expected only numeric arrays"),
    (np.array([[1.5]]), "y is dtype float64; expected integer labels"),
])
def test_svhn_labels_of_the_wrong_kind_are_named(tmp_path, y, message):
    # String labels raised numpy's "invalid literal for int()" ValueError.
    scipy.io.savemat(tmp_path / "train_32x32.mat",
                     {"X": np.zeros((32, 32, 3, 1), np.uint8), "y": y})
    with pytest.raises(DataError, match=rf"train_32x32\.mat: {message}"):
        svhn.read_svhn_mat(tmp_path / "train_32x32.mat")


def test_celeba_partition_file_that_is_not_text(tmp_path):
    # A UnicodeDecodeError escaped before.
    (tmp_path / "list_eval_partition.txt").write_bytes(b"000001.jpg 0\n\x80\xff 2\n")
    with pytest.raises(DataError, match=r"list_eval_partition\.txt: not a text file"):
        celeba._read_partition(tmp_path / "list_eval_partition.txt")


def test_celeba_zip_with_corrupt_deflate_data(tmp_path):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("img_align_celeba/000001.jpg", _jpeg(0))
    raw = bytearray(buf.getvalue())
    raw[80:90] = b"\xff" * 10  # inside the compressed data: zlib.error escaped before
    (tmp_path / "img_align_celeba.zip").write_bytes(bytes(raw))
    with pytest.raises(DataError, match=r"img_align_celeba\.zip: corrupt or unreadable zip"):
        celeba._extract_zip(tmp_path / "img_align_celeba.zip")


def test_celeba_damaged_cache_is_rebuilt(tmp_path):
    folder = tmp_path / "img_align_celeba"
    folder.mkdir()
    (folder / "000001.jpg").write_bytes(_jpeg(0))
    cache = tmp_path / f"celeba64_{celeba._cache_key(sorted(folder.glob('*.jpg')))}.pt"
    damaged_caches = (pickle.dumps([1, 2], protocol=2), b"\x80\x02garbage",
                      b"PK\x03\x04" + b"\x00" * 40)
    for damaged in damaged_caches:
        cache.write_bytes(damaged)  # pickle.UnpicklingError / IndexError escaped before
        images, names = celeba.load_images(folder)
        assert images.shape == (1, 3, 64, 64) and names == ["000001.jpg"]
