"""Binarisation, scaling, validation split, holdout class, option and pixel validation."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from lae.data import DataConfig, RawData, load_dataset, register_dataset, registry
from lae.data.processing import as_pixels
from lae.errors import ConfigError, DataError


def _load(**kw) -> object:
    return load_dataset(DataConfig(name="digits", **kw))


def test_static_binarisation_is_binary_and_seeded():
    a, b, c = _load(binarize="static"), _load(binarize="static"), _load(binarize="static", seed=1)
    for split in (a.train, a.test):
        assert set(torch.unique(split).tolist()) == {0.0, 1.0}
    assert torch.equal(a.train, b.train) and not torch.equal(a.train, c.train)
    assert a.value_range == (0.0, 1.0) and a.n_bits is None


def test_dynamic_keeps_train_probabilities_and_fixes_test():
    d = _load(binarize="dynamic", val_size=100)
    assert len(torch.unique(d.train)) > 2 and d.train.max() <= 1
    assert set(torch.unique(d.test).tolist()) == {0.0, 1.0}
    assert set(torch.unique(d.val).tolist()) == {0.0, 1.0}
    assert torch.equal(d.test, _load(binarize="dynamic").test)
    assert d.binarize == "dynamic" and d.n_bits is None


@pytest.mark.parametrize(("scale", "lo", "hi"), [("01", 0.0, 1.0), ("-11", -1.0, 1.0)])
def test_scale(scale, lo, hi):
    s = _load(scale=scale)
    assert s.value_range == (lo, hi)
    assert s.train.min().item() == lo and s.train.max().item() == hi
    assert s.test.min().item() >= lo and s.test.max().item() <= hi


def test_val_split_fraction_and_count_are_deterministic():
    a, b = _load(val_size=0.1), _load(val_size=0.1)
    assert (len(a.train), len(a.val), len(a.val_labels)) == (1347, 150, 150)
    assert torch.equal(a.val, b.val)
    assert not torch.equal(a.val, _load(val_size=0.1, seed=5).val)
    assert len(_load(val_size=200).val) == 200
    assert _load().val is None


def test_val_size_too_large():
    with pytest.raises(DataError, match="at least one must stay in train"):
        _load(val_size=1497)


def test_holdout_class_removed_from_train_and_val_only():
    s = _load(holdout_class=3, val_size=0.2)
    assert 3 not in s.train_labels.tolist() and 3 not in s.val_labels.tolist()
    assert 3 in s.test_labels.tolist()


def test_holdout_class_errors():
    with pytest.raises(DataError, match="holdout_class=11 does not occur"):
        _load(holdout_class=11)
    with pytest.raises(DataError, match="needs labels"):
        load_dataset(DataConfig(name="toy2d:moons", n_toy=100, holdout_class=0))


@pytest.mark.parametrize(
    ("kw", "pattern"),
    [
        ({"binarize": "foo"}, r"data\.binarize='foo'.*'none', 'static', 'dynamic'"),
        ({"scale": "0255"}, r"data\.scale='0255'.*'01', '-11'"),
        ({"scale": "-11", "binarize": "static"}, "cannot be combined"),
        ({"val_size": -1}, r"data\.val_size"),
        ({"val_size": 2.5}, r"data\.val_size"),
        ({"n_toy": 0}, r"data\.n_toy"),
        # Accepted before: numpy's default_rng / torch's manual_seed failed later with a
        # ValueError (negative) or RuntimeError / ValueError (beyond 64 bits).
        ({"seed": -1}, r"data\.seed=-1 must be an int in 0\.\.4294967295"),
        ({"seed": 2**64}, r"data\.seed=18446744073709551616 must be an int in 0\.\.4294967295"),
        ({"seed": 1.5}, r"data\.seed=1\.5 must be an int"),
        ({"val_size": float("inf")}, r"data\.val_size=inf"),
        ({"name": ["digits"]}, r"data\.name=\['digits'\] is not valid"),
        ({"path": 3}, r"data\.path=3 is not valid; expected a path"),
        ({"download": "yes"}, r"data\.download='yes' is not valid; expected true or false"),
        ({"binarize": ["none"]}, r"data\.binarize=\['none'\] is not valid"),
    ],
)
def test_bad_options_raise_config_error(kw, pattern):
    with pytest.raises(ConfigError, match=pattern):
        DataConfig(**kw)


def test_options_set_after_construction_are_checked_on_load():
    cfg = DataConfig(name="digits")
    cfg.binarize = "sometimes"
    with pytest.raises(ConfigError, match="binarize"):
        load_dataset(cfg)


def test_unknown_name_lists_datasets():
    with pytest.raises(ConfigError, match=r"data\.name='nope'.*mnist5k"):
        load_dataset(DataConfig(name="nope"))


def test_binarize_rejected_for_points():
    with pytest.raises(ConfigError, match="binarize"):
        load_dataset(DataConfig(name="toy2d:rings", n_toy=100, binarize="static"))


@pytest.mark.parametrize(
    ("value", "pattern"),
    [(np.nan, "non-finite"), (np.inf, "non-finite"), (256.0, r"0\.\.255"), (-1.0, r"0\.\.255"),
     (0.5, "non-integer")],
)
def test_bad_pixels_name_the_tensor(value, pattern):
    x = np.zeros((2, 1, 4, 4))
    x[1, 0, 2, 2] = value
    with pytest.raises(DataError, match=rf"^toy train images: .*{pattern}"):
        as_pixels(x, "toy train images")


def test_bad_pixels_from_a_loader_name_dataset_and_split(monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))  # undo after the test

    @register_dataset("test:bad-pixels", "pixels with a NaN, for a test")
    def _bad(cfg: DataConfig) -> RawData:
        test = np.zeros((2, 1, 4, 4))
        test[0, 0, 0, 0] = np.nan
        return RawData("image", np.zeros((3, 1, 4, 4)), None, test, None)

    with pytest.raises(DataError, match="test:bad-pixels test images: 1 non-finite"):
        load_dataset(DataConfig(name="test:bad-pixels"))


def test_integer_pixels_accepted():
    x = as_pixels(torch.arange(32, dtype=torch.int64).reshape(2, 1, 4, 4) * 8, "x")
    assert x.dtype == torch.uint8 and x.max() == 248


def test_val_size_as_a_huge_int_is_a_data_error_not_an_overflow():
    # math.isfinite(10**400) raised OverflowError in the config check.
    with pytest.raises(DataError, match="at least one must stay in train"):
        _load(val_size=10**400)


def test_holdout_of_every_training_label_is_named():
    with pytest.raises(DataError, match="holdout_class=0 is the label of every example"):
        load_dataset(DataConfig(name="toy:one-class", holdout_class=0))


@pytest.fixture(autouse=True)
def _own_registry(monkeypatch):
    """Datasets a test registers vanish after it."""
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    register_dataset("toy:one-class", "every example labelled 0")(
        lambda cfg: RawData("image", np.zeros((4, 1, 2, 2), np.uint8), np.zeros(4, np.int64),
                            np.zeros((2, 1, 2, 2), np.uint8), np.zeros(2, np.int64)))


def _register_points(name, train, test):
    register_dataset(name, "points for a test")(
        lambda cfg: RawData("points", train, None, test, None))


def test_non_finite_points_of_any_loader_are_counted_not_called_a_shape_problem():
    x = np.zeros((6, 2))
    x[2, 1] = np.nan
    x[4, 0] = np.inf
    _register_points("test:nan-points", x, np.zeros((3, 2)))
    with pytest.raises(DataError, match=r"^test:nan-points train points: 2 non-finite values "
                                        r"\(NaN/inf\) among 12") as info:
        load_dataset(DataConfig(name="test:nan-points"))
    assert "shape" not in str(info.value)


def test_points_beyond_float32_are_named():
    _register_points("test:huge-points", np.full((4, 2), 1e300), np.zeros((2, 2)))
    with pytest.raises(DataError, match=r"test:huge-points train points: 8 values exceed "
                                        r"the float32 range"):
        load_dataset(DataConfig(name="test:huge-points"))


@pytest.mark.parametrize("train,test,message", [
    (np.zeros((0, 2)), np.zeros((3, 2)), "the train split has no examples"),
    (np.zeros((4, 2)), np.zeros((0, 2)), "the test split has no examples"),
    (np.zeros((4, 0)), np.zeros((3, 0)), r"train examples have shape \(0,\), which holds no"),
])
def test_empty_splits_fail_at_load_time(train, test, message):
    # These loaded; training then failed after an "epoch" (or in the model).
    _register_points("test:empty", train, test)
    with pytest.raises(DataError, match=rf"^test:empty: {message}"):
        load_dataset(DataConfig(name="test:empty"))


@pytest.mark.parametrize("x,message", [
    (np.array([[["a"]]]), "dtype <U1, expected numbers"),
    (np.array([None]), "dtype object, expected numbers"),
    (np.full((1, 1, 2, 2), 2**64 - 1, np.uint64), "value 18446744073709551615 does not fit"),
])
def test_pixels_that_are_not_numbers_name_the_tensor(x, message):
    # torch.as_tensor raised TypeError; torch's min() NotImplementedError for uint64.
    with pytest.raises(DataError, match=rf"^toy train images: {message}"):
        as_pixels(x, "toy train images")


@pytest.mark.parametrize("dtype", [np.uint16, np.uint32, ">u2", ">f8", np.longdouble])
def test_pixels_of_wide_unsigned_big_endian_and_long_double_dtypes(dtype):
    x = (np.arange(16).reshape(1, 1, 4, 4) * 17).astype(dtype)
    assert as_pixels(x, "x").tolist() == (np.arange(16).reshape(1, 1, 4, 4) * 17).tolist()
