"""Fixtures for the data tests: an isolated search path and fake MNIST-style folders."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from lae.data.idx import write_idx


@pytest.fixture(autouse=True)
def isolated_search_path(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch):
    """No test sees the user's ~/.cache/lae or $LAE_DATA_DIR."""
    monkeypatch.setenv("HOME", str(tmp_path_factory.mktemp("home")))
    monkeypatch.delenv("LAE_DATA_DIR", raising=False)


def _write_idx_dataset(folder: Path, n_train: int = 20, n_test: int = 10) -> Path:
    """The four MNIST-style .gz files: random pixels, labels 0..9 cycling."""
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, 28, 28)))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n) % 10)
    return folder


@pytest.fixture
def fake_idx_dataset() -> Callable[..., Path]:
    """``fake_idx_dataset(folder, n_train=20, n_test=10)`` writes a tiny MNIST-style dataset."""
    return _write_idx_dataset
