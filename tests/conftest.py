"""Shared fixtures: tiny, fast configs for end-to-end runs."""

import pytest
import torch

# Tests must not depend on how many cores the machine has, and 2 threads is what CI has.
torch.set_num_threads(min(2, torch.get_num_threads()))

FAST = ["data.n_toy=400", "train.epochs=2", "train.eval_size=100", "train.eval_k=5",
        "train.n_samples=100", "train.progress=false", "train.log_every=2",
        "model.net.hidden=32", "train.batch_size=50"]


@pytest.fixture
def fast_overrides() -> list[str]:
    return list(FAST)
