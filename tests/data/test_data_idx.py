"""IDX parsing, validation errors and the search for MNIST-style datasets."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from lae.data import DataConfig, load_dataset
from lae.data.idx import idx_bytes, read_idx, read_idx_pair, write_idx
from lae.errors import DataError


@pytest.mark.parametrize("gz", [True, False])
def test_round_trip(tmp_path, gz):
    images = np.random.default_rng(0).integers(0, 256, (5, 28, 28)).astype(np.uint8)
    path = write_idx(tmp_path / "x", images, gz=gz)
    np.testing.assert_array_equal(read_idx(path, 3), images)


def test_truncated_file_names_file_and_sizes(tmp_path):
    path = tmp_path / "t.gz"
    path.write_bytes(gzip.compress(idx_bytes(np.zeros((4, 28, 28), np.uint8))[:-10]))
    with pytest.raises(DataError, match=r"t\.gz.*truncated.*3152 bytes.*3142"):
        read_idx(path, 3)


def test_wrong_magic(tmp_path):
    path = write_idx(tmp_path / "labels.gz", np.zeros(3, np.uint8))
    with pytest.raises(DataError, match=r"labels\.gz.*magic number 2049.*expected 2051"):
        read_idx(path, 3)


def test_corrupt_gzip(tmp_path):
    path = tmp_path / "bad.gz"
    path.write_bytes(gzip.compress(b"x" * 1000)[:20])
    with pytest.raises(DataError, match=r"bad\.gz.*corrupt gzip"):
        read_idx(path, 1)


def test_count_mismatch(tmp_path):
    x = write_idx(tmp_path / "x.gz", np.zeros((3, 28, 28)))
    y = write_idx(tmp_path / "y.gz", np.zeros(4))
    with pytest.raises(DataError, match="3 images but .* 4 labels"):
        read_idx_pair(x, y)


def test_label_out_of_range(tmp_path):
    x = write_idx(tmp_path / "x.gz", np.zeros((2, 28, 28)))
    y = write_idx(tmp_path / "y.gz", np.array([1, 12]))
    with pytest.raises(DataError, match=r"y\.gz: label 12 out of range"):
        read_idx_pair(x, y)


def test_load_from_data_dir(tmp_path, fake_idx_dataset):
    fake_idx_dataset(tmp_path / "m", n_train=30, n_test=10)
    splits = load_dataset(DataConfig(name="mnist", data_dir=str(tmp_path / "m"), val_size=5))
    assert (len(splits.train), len(splits.val), len(splits.test)) == (25, 5, 10)
    assert splits.shape == (1, 28, 28) and splits.n_bits == 8


def test_env_var_subfolder_is_searched(tmp_path, monkeypatch, fake_idx_dataset):
    fake_idx_dataset(tmp_path / "mnist")
    monkeypatch.setenv("LAE_DATA_DIR", str(tmp_path))
    assert len(load_dataset(DataConfig(name="mnist")).train) == 20


def test_missing_dataset_lists_places_searched(tmp_path, monkeypatch):
    monkeypatch.setenv("LAE_DATA_DIR", str(tmp_path / "env"))
    (tmp_path / "given").mkdir()
    (tmp_path / "given" / "train-images-idx3-ubyte.gz").write_bytes(b"")
    with pytest.raises(DataError) as info:
        load_dataset(DataConfig(name="mnist", data_dir=str(tmp_path / "given")))
    message = str(info.value)
    for place in (tmp_path / "given", tmp_path / "env" / "mnist", tmp_path / "env"):
        assert f"  {place}\n" in message
    assert ".cache/lae/mnist" in message
    assert "--download" in message and "--data-dir" in message
    assert "lacks train-labels-idx1-ubyte.gz" in message  # the partial folder is pointed out


def test_missing_fashion_mnist_mentions_debian_package(tmp_path, monkeypatch):
    monkeypatch.setattr("lae.data.idx.FASHION_MNIST_SYSTEM_DIRS", (str(tmp_path / "none"),))
    with pytest.raises(DataError, match="dataset-fashion-mnist"):
        load_dataset(DataConfig(name="fashion-mnist", data_dir=str(tmp_path)))


def test_header_dims_whose_product_overflows_int64(tmp_path):
    # 2**31 * 2**31 * 4 wrapped to 0 in np.prod(int64): a header-only file passed the length
    # check and reshape raised ValueError.
    dims = (2**31, 2**31, 4)
    path = tmp_path / "huge"
    path.write_bytes(bytes([0, 0, 8, 3]) + b"".join(d.to_bytes(4, "big") for d in dims))
    with pytest.raises(DataError, match=rf"huge: truncated: header dims \[2147483648, "
                                        rf"2147483648, 4\] need {2**64 + 16} bytes"):
        read_idx(path, 3)
