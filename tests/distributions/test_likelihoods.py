"""Bernoulli and Gaussian likelihoods, the likelihood registry and its errors."""

import math

import pytest
import torch
from scipy import integrate
from torch import distributions as D

from lae.distributions import (
    LIKELIHOODS,
    BernoulliLikelihood,
    DiscretizedLogisticLikelihood,
    GaussianLikelihood,
    build_likelihood,
)
from lae.errors import ConfigError

SHAPES = [(3, 8, 8), (2,)]


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


@pytest.mark.parametrize("shape", SHAPES)
def test_bernoulli_matches_torch_summed(shape):
    logits = 3 * torch.randn(5, *shape)
    x = torch.bernoulli(torch.full((5, *shape), 0.4))
    dist = BernoulliLikelihood(shape)(logits)
    expected = D.Bernoulli(logits=logits).log_prob(x).flatten(1).sum(1)
    lp = dist.log_prob(x)
    assert lp.shape == (5,)
    torch.testing.assert_close(lp, expected)
    torch.testing.assert_close(dist.mean, torch.sigmoid(logits))
    s = dist.sample(generator=torch.Generator().manual_seed(1))
    assert s.shape == (5, *shape) and ((s == 0) | (s == 1)).all()
    assert torch.equal(s, dist.sample(generator=torch.Generator().manual_seed(1)))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("learn_scale,per_dim", [(False, False), (True, False), (True, True)])
def test_gaussian_matches_torch_summed(shape, learn_scale, per_dim):
    lik = GaussianLikelihood(shape, sigma=0.3, learn_scale=learn_scale, per_dim=per_dim)
    mean, x = torch.randn(4, *shape), torch.randn(4, *shape)
    dist = lik(mean)
    expected = D.Normal(mean, 0.3).log_prob(x).flatten(1).sum(1)
    assert dist.log_prob(x).shape == (4,)
    torch.testing.assert_close(dist.log_prob(x), expected)
    torch.testing.assert_close(dist.mean, mean)
    g = torch.Generator().manual_seed(2)
    assert dist.sample(generator=g).shape == (4, *shape)
    assert dist.rsample().shape == (4, *shape)


def test_scale_parameters_are_registered():
    assert dict(GaussianLikelihood((2,)).named_parameters()) == {}
    assert "log_scale" in dict(GaussianLikelihood((2,)).named_buffers())
    scalar = dict(GaussianLikelihood((1, 4, 4), learn_scale=True).named_parameters())
    assert scalar["log_scale"].shape == ()
    per_dim = GaussianLikelihood((1, 4, 4), learn_scale=True, per_dim=True)
    assert dict(per_dim.named_parameters())["log_scale"].shape == (1, 4, 4)
    assert dict(DiscretizedLogisticLikelihood((2,)).named_parameters())["log_scale"].shape == ()
    fixed = DiscretizedLogisticLikelihood((2,), learn_scale=False)
    assert dict(fixed.named_parameters()) == {}


def test_learned_scale_gets_gradient_and_respects_floor():
    lik = GaussianLikelihood((2,), sigma=0.5, learn_scale=True, min_scale=0.1)
    assert lik.scale.item() == pytest.approx(0.5)
    lik(torch.zeros(3, 2)).log_prob(torch.ones(3, 2)).sum().backward()
    assert lik.log_scale.grad is not None and torch.isfinite(lik.log_scale.grad)
    with torch.no_grad():
        lik.log_scale.fill_(-100.0)
    assert lik.scale.item() == pytest.approx(0.1)


@pytest.mark.parametrize("sigma,mean", [(0.05, 0.3), (1.0, -2.0), (4.0, 10.0)])
def test_gaussian_density_integrates_to_one(sigma, mean):
    dist = GaussianLikelihood((1,), sigma=sigma, learn_scale=True)(torch.tensor([[mean]]))

    def density(x: float) -> float:
        return dist.log_prob(torch.tensor([[x]])).exp().item()

    total, _ = integrate.quad(density, mean - 20 * sigma, mean + 20 * sigma, points=[mean])
    assert total == pytest.approx(1.0, abs=1e-6)


def test_gradients_finite_for_extreme_inputs():
    logits = torch.tensor([[-1e4, -50.0, 0.0, 50.0, 1e4]], requires_grad=True)
    x = torch.tensor([[1.0, 0.0, 1.0, 0.0, 1.0]])
    lp = BernoulliLikelihood((5,))(logits).log_prob(x)
    lp.sum().backward()
    assert torch.isfinite(lp).all() and torch.isfinite(logits.grad).all()

    lik = GaussianLikelihood((3,), sigma=1e-3, learn_scale=True)
    mean = torch.tensor([[-1e4, 0.0, 1e4]], requires_grad=True)
    lp = lik(mean).log_prob(torch.tensor([[1e4, 0.0, -1e4]]))
    lp.sum().backward()
    assert torch.isfinite(lp).all()
    assert torch.isfinite(mean.grad).all() and torch.isfinite(lik.log_scale.grad)


def test_check_support():
    binary = BernoulliLikelihood((3,)).check_support(torch.tensor([0.0, 1.0, 0.5]))
    assert binary.tolist() == [True, True, False]
    gauss = GaussianLikelihood((2,)).check_support(torch.tensor([1.0, math.inf]))
    assert gauss.tolist() == [True, False]


def test_wrong_parameter_shape_is_an_error():
    with pytest.raises(ValueError, match="expects parameters"):
        GaussianLikelihood((1, 4, 4))(torch.zeros(2, 16))


def test_follows_module_dtype():
    lik = DiscretizedLogisticLikelihood((2,)).double()
    dist = lik(torch.zeros(3, 2, dtype=torch.float64))
    assert dist.log_prob(torch.zeros(3, 2, dtype=torch.float64)).dtype == torch.float64


def test_registry_builds_each_likelihood():
    assert set(LIKELIHOODS) == {"bernoulli", "gaussian", "logistic"}
    assert isinstance(build_likelihood("bernoulli", (2,)), BernoulliLikelihood)
    gauss = build_likelihood("gaussian", (2,), n_bits=None, sigma=0.2, learn_scale=True)
    assert isinstance(gauss, GaussianLikelihood) and gauss.scale.item() == pytest.approx(0.2)
    logi = build_likelihood("logistic", (3, 4, 4), value_range=(-1.0, 1.0), n_bits=5, per_dim=True)
    assert isinstance(logi, DiscretizedLogisticLikelihood)
    assert (logi.low, logi.high, logi.n_bits) == (-1.0, 1.0, 5)
    assert logi.log_scale.shape == (3, 4, 4)


def test_registry_errors():
    with pytest.raises(ConfigError, match=r"'poisson'.*bernoulli.*gaussian.*logistic"):
        build_likelihood("poisson", (2,))
    with pytest.raises(ConfigError, match=r"\['sigmaa'\].*sigma"):
        build_likelihood("gaussian", (2,), sigmaa=0.1)
    with pytest.raises(ConfigError,
                       match="discrete 8-bit data.*bernoulli.*gaussian.*--model.likelihood=auto"):
        build_likelihood("logistic", (2,), n_bits=None)
    with pytest.raises(ConfigError, match="value_range"):
        build_likelihood("bernoulli", (2,), value_range=(-1.0, 1.0))


@pytest.mark.parametrize(
    "make",
    [
        lambda: GaussianLikelihood((2,), sigma=0.0),
        lambda: GaussianLikelihood((2,), sigma=0.1, min_scale=0.2),
        lambda: GaussianLikelihood((2,), per_dim=True),
        lambda: GaussianLikelihood((0, 2)),
        lambda: DiscretizedLogisticLikelihood((2,), value_range=(1.0, 0.0)),
        lambda: DiscretizedLogisticLikelihood((2,), n_bits=0),
        lambda: BernoulliLikelihood(()),
    ],
)
def test_bad_constructor_arguments(make):
    with pytest.raises(ConfigError):
        make()
