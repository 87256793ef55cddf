"""The `npz` dataset: a user's own data in one file."""

import io
import zipfile

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
    ({"x_train": np.zeros((4, 2, 2), np.uint8)}, r"lacks key 'x_test'"),
    ({"x_test": np.zeros((4, 2, 2), np.uint8)}, r"the train split has no examples \(no x_train"),
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
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 then not a zip")
    with pytest.raises(DataError, match="junk.npz is not a readable .npz"):
        load_dataset(DataConfig(name="npz", path=str(tmp_path / "junk.npz")))


@pytest.mark.parametrize("content", [b"not a zip", b"", b"x_train,x_test\n1,2\n"])
def test_a_file_that_is_not_a_zip_is_named_not_an_npz(tmp_path, content):
    # It used to get numpy's hint to pass allow_pickle=True (numpy tries to unpickle it).
    f = tmp_path / "data.csv"
    f.write_bytes(content)
    with pytest.raises(DataError, match=r"data\.csv is not an \.npz archive") as info:
        load_dataset(DataConfig(name="npz", path=str(f)))
    assert "pickle" not in str(info.value)


def test_a_single_npy_array_is_named_and_the_fix_shown(tmp_path):
    np.save(tmp_path / "x.npy", np.zeros((4, 2)))  # np.load gave a TypeError traceback
    with pytest.raises(DataError, match=r"x\.npy is not an \.npz archive.*numpy\.savez"):
        load_dataset(DataConfig(name="npz", path=str(tmp_path / "x.npy")))


def test_a_directory_is_not_reported_missing(tmp_path):
    with pytest.raises(DataError, match="is a directory; expected a file") as info:
        load_dataset(DataConfig(name="npz", path=str(tmp_path)))
    assert "does not exist" not in str(info.value)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_points_are_counted_and_named(tmp_path, bad):
    x = np.random.default_rng(0).standard_normal((10, 3))
    x[[1, 4, 7], 0] = bad
    f = _save(tmp_path / "p.npz", x_train=np.zeros((5, 3)), x_test=x)
    with pytest.raises(DataError, match=r"p\.npz: x_test has 3 non-finite values") as info:
        load_dataset(DataConfig(name="npz", path=f))
    assert "shape" not in str(info.value)


def test_non_finite_float_images_are_counted_and_named(tmp_path):
    x = np.zeros((4, 5, 5))
    x[0, 0, :2] = np.nan
    f = _save(tmp_path / "i.npz", x_train=x, x_test=np.zeros((2, 5, 5)))
    with pytest.raises(DataError, match=r"i\.npz: x_train has 2 non-finite values"):
        load_dataset(DataConfig(name="npz", path=f))


def test_points_beyond_float32_are_named(tmp_path):
    f = _save(tmp_path / "p.npz", x_train=np.full((4, 2), 1e300), x_test=np.zeros((2, 2)))
    with pytest.raises(DataError, match=r"p\.npz: x_train has 8 values beyond the float32"):
        load_dataset(DataConfig(name="npz", path=f))


def test_an_npz_without_arrays_is_a_data_error(tmp_path):
    np.savez(tmp_path / "empty.npz")
    with pytest.raises(DataError, match=r"empty\.npz holds no arrays"):
        load_dataset(DataConfig(name="npz", path=str(tmp_path / "empty.npz")))
    with zipfile.ZipFile(tmp_path / "other.npz", "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(DataError, match=r"other\.npz holds no arrays; it is a zip holding "
                                        r"readme\.txt"):
        load_dataset(DataConfig(name="npz", path=str(tmp_path / "other.npz")))


@pytest.mark.parametrize("arrays,key", [
    ({"x_train": np.zeros((0, 3)), "x_test": np.zeros((2, 3))}, "x_train"),
    ({"x_train": np.zeros((4, 3)), "x_test": np.zeros((0, 3))}, "x_test"),
    ({"x_train": np.zeros((0, 4, 4), np.uint8), "x_test": np.zeros((2, 4, 4), np.uint8)},
     "x_train"),
    ({"x_train": np.float64(1.0), "x_test": np.zeros((2, 3))}, "x_train"),
])
def test_arrays_without_examples_fail_at_load_time(tmp_path, arrays, key):
    # Zero training examples used to load fine and fail only after an "epoch".
    f = _save(tmp_path / "z.npz", **arrays)
    with pytest.raises(DataError, match=rf"z\.npz: {key} has shape .* holds no examples"):
        load_dataset(DataConfig(name="npz", path=f))


@pytest.mark.parametrize("arrays,message", [
    ({"x_train": np.array([None, 1], dtype=object), "x_test": np.zeros((2, 2))},
     "x_train has dtype object; expected numbers"),
    ({"x_train": np.zeros((3, 2)), "x_test": np.array([["a", "b"]])},
     "x_test has dtype <U1; expected numbers"),
    ({"x_train": np.zeros((3, 2)), "x_test": np.zeros((2, 2)), "y_train": np.array(list("abc"))},
     "y_train has dtype <U1; expected numbers"),
    ({"x_train": np.zeros((3, 2, 2), np.uint8), "x_test": np.zeros((3, 1, 1, 2, 2), np.uint8)},
     r"x_test has shape \(3, 1, 1, 2, 2\) but x_train \(3, 2, 2\)"),
])
def test_wrong_dtypes_and_ranks_name_the_array(tmp_path, arrays, message):
    # Strings gave a torch TypeError traceback; object arrays numpy's allow_pickle hint.
    f = _save(tmp_path / "w.npz", **arrays)
    with pytest.raises(DataError, match=rf"w\.npz: (array )?{message}"):
        load_dataset(DataConfig(name="npz", path=f))


def test_wide_unsigned_and_big_endian_pixels_load(tmp_path):
    # uint16 pixels raised torch's NotImplementedError ("min_all" for UInt16).
    x = np.arange(4 * 3 * 3).reshape(4, 3, 3) % 256
    f = _save(tmp_path / "u.npz", x_train=x.astype(np.uint16), x_test=x.astype(">i4"))
    splits = load_dataset(DataConfig(name="npz", path=f))
    assert splits.train.shape == (4, 1, 3, 3)
    assert splits.train.max().item() == pytest.approx(35 / 255)


def test_truncated_array_is_named(tmp_path):
    buf = io.BytesIO()
    np.save(buf, np.zeros((50, 4)))
    with zipfile.ZipFile(tmp_path / "t.npz", "w") as zf:
        zf.writestr("x_train.npy", buf.getvalue()[:-40])
        zf.writestr("x_test.npy", buf.getvalue())
    with pytest.raises(DataError, match=r"t\.npz: array x_train is truncated"):
        load_dataset(DataConfig(name="npz", path=str(tmp_path / "t.npz")))


def test_zip_with_a_malformed_extra_field(tmp_path):
    # Found by tests/test_fuzz_inputs.py: zipfile raised IndexError from _decodeExtra.
    raw = (b"PK\x03\x04PK\x01\x02" + b"\0" * 29 + b"\x01" + b"\0" * 192 + b"PK\x05\x06"
           + b"\0" * 8 + b"\xe2" + b"\0" * 9)
    (tmp_path / "odd.npz").write_bytes(raw)
    # Python versions differ in what zipfile makes of it (an error, or an archive without the
    # arrays): either way a DataError that names the file, whatever the interpreter's own text
    with pytest.raises(DataError, match=r"odd\.npz"):
        load_dataset(DataConfig(name="npz", path=str(tmp_path / "odd.npz")))


def test_channels_last_images_are_named_not_trained_on(tmp_path):
    # [N, H, W, 3] used to be read as [N, C=H, ...], train an epoch, then fail in matplotlib
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "rgb.npz", x_train=rng.integers(0, 256, (10, 8, 8, 3), dtype=np.uint8),
             x_test=rng.integers(0, 256, (4, 8, 8, 3), dtype=np.uint8))
    with pytest.raises(DataError, match=r"looks like \[N, H, W, C\].*transpose\(0, 3, 1, 2\)"):
        load_dataset(DataConfig(name="npz", path=str(tmp_path / "rgb.npz")))


def test_zero_one_images_are_refused_as_8_bit_pixels(tmp_path):
    # 0/1 images read as 8-bit pixels are nearly black, with spuriously excellent likelihoods
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "bin.npz", x_train=rng.integers(0, 2, (10, 8, 8), dtype=np.uint8),
             x_test=rng.integers(0, 2, (4, 8, 8), dtype=np.uint8))
    with pytest.raises(DataError, match=r"every value is 0 or 1.*x \* 255"):
        load_dataset(DataConfig(name="npz", path=str(tmp_path / "bin.npz")))
    np.savez(tmp_path / "ok.npz", x_train=255 * rng.integers(0, 2, (10, 8, 8), dtype=np.uint8),
             x_test=255 * rng.integers(0, 2, (4, 8, 8), dtype=np.uint8))
    assert load_dataset(DataConfig(name="npz", path=str(tmp_path / "ok.npz"))).shape == (1, 8, 8)
