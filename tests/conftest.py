"""Shared fixtures: tiny, fast configs for end-to-end runs."""

import pytest


def pytest_addoption(parser):
    parser.addoption("--long", action="store_true",
                     help="also run the long forms of the fuzz and fault tests (marker: long)")
    parser.addoption("--device", default="cpu",
                     help="train.device of the end-to-end runs (default cpu, the same numbers "
                          "on every machine; auto or cuda to run them on a GPU)")


def pytest_configure(config):
    FAST.append(f"train.device={config.getoption('--device')}")


def pytest_collection_modifyitems(config, items):
    if config.getoption("--long"):
        return
    skip = pytest.mark.skip(reason="long form: run with pytest --long")
    for item in items:
        if "long" in item.keywords:
            item.add_marker(skip)

FAST = ["data.n_toy=400", "train.epochs=2", "train.eval_size=100", "train.eval_k=5",
        "train.n_samples=100", "train.progress=false", "train.log_every=2",
        "model.net.hidden=32", "train.batch_size=50"]


@pytest.fixture
def fast_overrides() -> list[str]:
    return list(FAST)


@pytest.fixture
def linear_gaussian_data():
    """A factory: (truth, x) with truth a LinearGaussian (D=6, K=2, sigma=0.5, float64) and x
    [n, 6] drawn from it, both from one generator seeded with ``seed``."""
    import torch

    from lae.distributions import LinearGaussian

    def make(n: int, seed: int = 0):
        g = torch.Generator().manual_seed(seed)
        truth = LinearGaussian(torch.randn(6, 2, generator=g, dtype=torch.float64),
                               torch.randn(6, generator=g, dtype=torch.float64), 0.5)
        return truth, truth.sample_x(n, generator=g)

    return make
