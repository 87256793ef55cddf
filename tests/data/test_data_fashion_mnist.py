"""The real Fashion-MNIST files from the Debian package dataset-fashion-mnist."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from lae.data import DataConfig, load_dataset

DEBIAN_DIR = Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.skipif(not DEBIAN_DIR.is_dir(), reason="Debian package dataset-fashion-mnist absent")
def test_real_fashion_mnist():
    s = load_dataset(DataConfig(name="fashion-mnist"))
    assert (len(s.train), len(s.test), s.shape) == (60000, 10000, (1, 28, 28))
    assert torch.bincount(s.test_labels).tolist() == [1000] * 10
    assert s.train.min() == 0 and s.train.max() == 1
