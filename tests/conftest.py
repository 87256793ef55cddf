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


def replacing(base: list[str], *extra: str) -> list[str]:
    """``base`` overrides (``key=value``, with or without ``--``) less those whose key one of
    ``extra`` sets, then ``extra``: the command line takes each setting once."""
    keys = {item.removeprefix("--").partition("=")[0] for item in extra}
    return [item for item in base if item.removeprefix("--").partition("=")[0] not in keys
            ] + list(extra)


@pytest.fixture(scope="session")
def replacing_overrides():
    """:func:`replacing`, for tests that vary one setting of a shared list."""
    return replacing


def make_linear_gaussian(n: int, seed: int = 0, *, d: int = 6, k: int = 2, sigma: float = 0.5,
                         weight_scale: float = 1.0, bias_scale: float = 1.0, dtype=None):
    """The linear-Gaussian test problem every closed-form test uses: (truth, x) with truth a
    LinearGaussian, W = weight_scale * N(0, 1)^{d x k}, b = bias_scale * N(0, 1)^d,
    x ~ N(b, W W^T + sigma^2 I) [n, d], all drawn in that order from one generator seeded
    with ``seed`` (float64 unless ``dtype`` says otherwise)."""
    import torch

    from lae.distributions import LinearGaussian

    dtype = dtype or torch.float64
    g = torch.Generator().manual_seed(seed)
    truth = LinearGaussian(weight_scale * torch.randn(d, k, generator=g, dtype=dtype),
                           bias_scale * torch.randn(d, generator=g, dtype=dtype), sigma)
    return truth, truth.sample_x(n, generator=g)


@pytest.fixture(scope="session")
def linear_gaussian_data():
    """:func:`make_linear_gaussian`, the factory of the linear-Gaussian test problem."""
    return make_linear_gaussian


@pytest.fixture
def exact_posterior_vae():
    """A factory: (model, truth) for a VAE-type model ``name`` ("vae", "vae-flow") with a linear
    decoder whose columns are orthogonal (so the exact posterior p(z|x) of the linear-Gaussian
    ``truth`` has a diagonal covariance) and an encoder that outputs that posterior exactly
    (flows, if any, at their identity start): every importance weight is then p(x)."""
    import torch

    from lae.distributions import LinearGaussian
    from lae.models import MODELS, DataSpec, build_model
    from lae.nn import NetConfig

    def make(name: str, sigma: float = 0.5, **kw):
        torch.manual_seed(0)
        cfg = MODELS[name].Config(name=name, latent_dim=2, net=NetConfig(depth=0),
                                  likelihood="gaussian", likelihood_options={"sigma": sigma}, **kw)
        vae = build_model(cfg, DataSpec.points(6)).double()
        basis, _ = torch.linalg.qr(torch.randn(6, 2, dtype=torch.float64))
        weight = basis * torch.tensor([2.0, 0.7], dtype=torch.float64)
        bias = torch.randn(6, dtype=torch.float64)
        decoder = next(m for m in vae.decoder.modules() if isinstance(m, torch.nn.Linear))
        cov = torch.linalg.inv(torch.eye(2, dtype=torch.float64) + weight.T @ weight / sigma**2)
        gain = cov @ weight.T / sigma**2  # posterior mean = gain (x - b)
        with torch.no_grad():
            decoder.weight.copy_(weight)
            decoder.bias.copy_(bias)
            head = vae.encoder.head
            head.weight.zero_()
            head.weight[:2] = gain
            head.bias[:2] = -gain @ bias
            sd = cov.diagonal().sqrt() - 1e-4  # the encoder adds MIN_STD to softplus(raw)
            head.bias[2:] = torch.log(torch.expm1(sd))  # softplus^-1
        return vae, LinearGaussian(weight, bias, sigma)

    return make
