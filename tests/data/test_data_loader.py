"""BatchLoader: coverage, batching, dynamic binarisation and reproducibility."""

from __future__ import annotations

import pytest
import torch

from lae.data import BatchLoader
from lae.errors import ConfigError, DataError


def _rows(n: int = 23) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.arange(n, dtype=torch.float32)[:, None].repeat(1, 3)
    return x, torch.arange(n)


def test_shuffle_covers_every_example_once():
    x, y = _rows()
    loader = BatchLoader(x, y, 5, shuffle=True, generator=torch.Generator().manual_seed(0))
    assert len(loader) == 5
    epochs = [[(xb, yb) for xb, yb in loader] for _ in range(2)]
    for batches in epochs:
        assert [len(xb) for xb, _ in batches] == [5, 5, 5, 5, 3]
        seen = torch.cat([yb for _, yb in batches])
        assert sorted(seen.tolist()) == list(range(23))
        assert all(torch.equal(xb[:, 0].long(), yb) for xb, yb in batches)  # rows stay paired
    orders = [torch.cat([yb for _, yb in batches]) for batches in epochs]
    assert not torch.equal(orders[0], orders[1])  # a new permutation each epoch


def test_no_shuffle_and_drop_last():
    x, _ = _rows()
    loader = BatchLoader(x, None, 5, shuffle=False, drop_last=True)
    batches = list(loader)
    assert len(loader) == len(batches) == 4
    assert torch.equal(torch.cat([xb for xb, _ in batches]), x[:20])
    assert all(yb is None for _, yb in batches)


def test_dynamic_binarisation_resamples_and_is_reproducible():
    probs = torch.full((64, 1, 4, 4), 0.5)
    g = torch.Generator().manual_seed(1)
    loader = BatchLoader(probs, None, 16, shuffle=True, dynamic_binarize=True, generator=g)
    state = g.get_state()
    first = torch.cat([xb for xb, _ in loader])
    second = torch.cat([xb for xb, _ in loader])
    assert set(torch.unique(first).tolist()) == {0.0, 1.0}
    assert not torch.equal(first, second)
    g.set_state(state)  # a resumed trainer replays the same epoch
    assert torch.equal(torch.cat([xb for xb, _ in loader]), first)


def test_invalid_arguments():
    x, y = _rows()
    with pytest.raises(ConfigError, match="batch_size"):
        BatchLoader(x, y, 0, shuffle=False)
    with pytest.raises(DataError, match="labels"):
        BatchLoader(x, y[:-1], 4, shuffle=False)
    with pytest.raises(DataError, match="probabilities"):
        BatchLoader(x, y, 4, shuffle=False, dynamic_binarize=True)


def test_evenly_spaced_covers_a_class_sorted_split():
    from lae.data import evenly_spaced

    labels = torch.arange(10).repeat_interleave(50)  # sorted by class, like mnist5k's test split
    picked = evenly_spaced(labels, 20)
    assert torch.equal(picked.bincount(), torch.full((10,), 2))
    assert evenly_spaced(labels, 0) is labels and evenly_spaced(labels, 10_000) is labels
