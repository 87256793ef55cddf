"""The `npz` dataset: a user's own data in one file."""

import numpy as np
import pytest

from lae.data import DataConfig, load_dataset
from lae.errors import ConfigError, DataError


def _save(path, **arrays):
    np.savez(path, **arrays)
    return str(path)


def test_grey_images_with_labels(tmp_path):
    rng = np.random.default_rng(0)
    f = _save(tmp_path / "d.npz", x_train=rng.integers(0, 256, (30, 6, 6), dtype=np.uint8),
              x_test=rng.integers(0, 256, (5, 6, 6), dtype=np.uint8),
              y_train=np.arange(30) % 3, y_test=np.arange(5) % 3)
    splits = load_dataset(DataConfig(name="npz", path=f, scale="-11", holdout_class=1))
    assert splits.shape == (1, 6, 6) and splits.n_bits == 8
    assert splits.train.shape[0] == 20 and splits.test.shape[0] == 5
    assert splits.train.min() >= -1 and splits.train.max() <= 1


def test_points(tmp_path):
    f = _save(tmp_path / "p.npz", x_train=np.random.randn(40, 3), x_test=np.random.randn(8, 3))
    splits = load_dataset(DataConfig(name="npz", path=f))
    assert splits.kind == "points" and splits.shape == (3,)


@pytest.mark.parametrize("arrays,message", [
    ({"x_train": np.zeros((4, 2, 2), np.uint8)}, r"lacks key\(s\) \['x_test'\]"),
    ({"x_train": np.zeros(4, np.uint8), "x_test": np.zeros(4, np.uint8)}, "expected images"),
    ({"x_train": np.full((4, 2, 2), 300.0), "x_test": np.zeros((4, 2, 2))}, "0..255|255"),
])
def test_bad_files_name_the_problem(tmp_path, arrays, message):
    f = _save(tmp_path / "bad.npz", **arrays)
    with pytest.raises(DataError, match=message):
        load_dataset(DataConfig(name="npz", path=f))


def test_missing_or_corrupt_file(tmp_path):
    with pytest.raises(ConfigError, match="data.path"):
        load_dataset(DataConfig(name="npz"))
    with pytest.raises(DataError, match="does not exist"):
        load_dataset(DataConfig(name="npz", path=str(tmp_path / "none.npz")))
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(DataError, match="not a readable .npz"):
        load_dataset(DataConfig(name="npz", path=str(tmp_path / "junk.npz")))
