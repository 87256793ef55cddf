"""Shared fixtures: tiny, fast configs for end-to-end runs."""

import pytest

FAST = ["data.n_toy=400", "train.epochs=2", "train.eval_size=100", "train.eval_k=5",
        "train.n_samples=100", "train.progress=false", "train.log_every=2",
        "model.net.hidden=32", "train.batch_size=50"]


@pytest.fixture
def fast_overrides() -> list[str]:
    return list(FAST)
