"""Datasets that need no files: mnist5k, digits and the 2-D toys."""

from __future__ import annotations

import pytest
import torch

from lae.data import DataConfig, list_datasets, load_dataset
from lae.data.toy2d import TOY_VARIANTS


def test_mnist5k_split_is_fixed_and_balanced():
    a = load_dataset(DataConfig(name="mnist5k", seed=0))
    b = load_dataset(DataConfig(name="mnist5k", seed=7))  # the test set ignores cfg.seed
    assert (len(a.train), len(a.test), a.shape) == (4500, 500, (1, 28, 28))
    assert torch.equal(a.test, b.test) and torch.equal(a.train, b.train)
    assert torch.bincount(a.test_labels).tolist() == [50] * 10
    assert torch.bincount(a.train_labels).tolist() == [450] * 10
    assert a.train.dtype == torch.float32 and a.value_range == (0.0, 1.0) and a.n_bits == 8


def test_digits():
    d = load_dataset(DataConfig(name="digits"))
    assert (len(d.train), len(d.test), d.shape) == (1497, 300, (1, 8, 8))
    assert torch.bincount(d.test_labels).tolist() == [30] * 10
    assert d.train.max() == 1.0 and d.train.min() == 0.0
    # 8-bit mapping of 0..16: every value is a multiple of 1/255 of round(v * 255 / 16)
    levels = torch.unique(torch.round(d.train * 255)).tolist()
    assert set(levels) <= {round(v * 255 / 16) for v in range(17)}


def test_list_datasets_includes_toy_variants():
    names = dict(list_datasets())
    expected = {"mnist", "fashion-mnist", "mnist5k", "digits", "cifar10", "svhn", "celeba"}
    assert expected <= set(names)
    assert {f"toy2d:{v}" for v in TOY_VARIANTS} <= set(names)
    assert all(isinstance(d, str) and d for d in names.values())


@pytest.mark.parametrize("variant", sorted(TOY_VARIANTS))
def test_toy2d(variant):
    cfg = DataConfig(name=f"toy2d:{variant}", n_toy=1000, seed=3)
    s = load_dataset(cfg)
    assert s.kind == "points" and s.shape == (2,) and s.train_labels is None
    assert s.train.shape == (1000, 2) and s.test.shape == (200, 2)
    assert s.value_range == (float("-inf"), float("inf")) and s.n_bits is None
    assert 0.5 < s.train.var(dim=0).sum().item() / 2 < 1.5  # roughly unit variance
    assert torch.equal(load_dataset(cfg).train, s.train)
    other = load_dataset(DataConfig(name=f"toy2d:{variant}", n_toy=1000, seed=4))
    assert not torch.equal(other.train, s.train)


@pytest.mark.parametrize("name,option,value,flag", [
    ("digits", "data_dir", "/tmp", "--data-dir"), ("mnist5k", "download", True, "--download"),
    ("toy2d:moons", "path", "x.npz", "data.path"), ("npz", "data_dir", "/tmp", "--data-dir")])
def test_a_file_option_the_dataset_does_not_read_is_refused(name, option, value, flag):
    # a folder or file given for a dataset that never reads it was ignored without a word
    from lae.errors import ConfigError

    with pytest.raises(ConfigError, match=f"{flag}.*does not read it"):
        load_dataset(DataConfig(name=name, **{option: value}))
