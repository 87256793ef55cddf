"""Discretised logistic: normalisation, agreement with the textbook formula, stability, sampling."""

import pytest
import torch

from lae.distributions import DiscretizedLogistic, DiscretizedLogisticLikelihood, on_grid

RANGES = [(0.0, 1.0), (-1.0, 1.0)]
SCALES = [1e-20, 1e-7, 1e-4, 1e-2, 0.1, 1.0, 50.0]


def mus(low: float, high: float) -> torch.Tensor:
    """Locations inside, on the edges of, between bins of, and far outside the range."""
    width = (high - low) / 255
    return torch.tensor(
        [low - 5.0, low - 0.3, low, low + 0.5 * width, 0.5 * (low + high), high, high + 2.0, 1e3]
    )


def grid_probs(low, high, loc, scale, dtype, n_bits=8):
    """Masses of all grid values for each (loc, scale): shape [K, M]."""
    d = DiscretizedLogistic(loc.to(dtype), torch.as_tensor(scale, dtype=dtype), low, high, n_bits)
    return d.log_prob(d.support_values()[:, None]).exp()


@pytest.mark.parametrize("low,high", RANGES)
@pytest.mark.parametrize("scale", SCALES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_masses_sum_to_one(low, high, scale, dtype):
    total = grid_probs(low, high, mus(low, high), scale, dtype).sum(0)
    torch.testing.assert_close(total, torch.ones_like(total), rtol=0, atol=1e-5)


@pytest.mark.parametrize("low,high", RANGES)
@pytest.mark.parametrize("scale", [0.003, 0.05, 0.7])
def test_matches_sigmoid_difference(low, high, scale):
    """Agrees with the PixelCNN++ definition, computed naively in float64 where that is exact."""
    loc = mus(low, high)[1:-1].double()
    d = DiscretizedLogistic(loc, torch.tensor(scale, dtype=torch.float64), low, high)
    x = d.support_values()[:, None]
    h = 0.5 * d.bin_width
    upper = torch.sigmoid((x + h - loc) / scale)
    lower = torch.sigmoid((x - h - loc) / scale)
    upper[-1], lower[0] = 1.0, 0.0  # edge bins extend to +-infinity
    expected = upper - lower
    torch.testing.assert_close(d.log_prob(x).exp(), expected, rtol=1e-9, atol=1e-12)


def test_tiny_scale_puts_all_mass_on_nearest_value():
    loc = torch.tensor([0.5 / 255 * 2 + 1e-9, 0.25, -3.0, 7.0])  # grid 2, near 64/255, edges
    d = DiscretizedLogistic(loc, torch.tensor(1e-8))
    p = d.log_prob(d.support_values()[:, None]).exp()
    assert p.argmax(0).tolist() == [1, 64, 0, 255]
    torch.testing.assert_close(p.max(0).values, torch.ones(4))
    assert torch.isfinite(d.log_prob(d.support_values()[:, None])).all()


@pytest.mark.parametrize("log_scale", [-20.0, -7.0, 0.0, 10.0])
def test_gradients_finite_for_extreme_inputs(log_scale):
    loc = torch.tensor([-1e4, -1.0, 0.0, 0.5, 1.0, 2.0, 1e4]).repeat_interleave(3)
    x = torch.tensor([0.0, 128 / 255, 1.0]).repeat(7)
    loc.requires_grad_(True)
    ls = torch.tensor(log_scale, requires_grad=True)
    lp = DiscretizedLogistic(loc, ls.exp()).log_prob(x)
    assert torch.isfinite(lp).all()
    lp.sum().backward()
    assert torch.isfinite(loc.grad).all() and torch.isfinite(ls.grad)


def test_log_prob_validates_nothing_but_check_support_does():
    d = DiscretizedLogistic(torch.zeros(4), torch.tensor(0.1))
    x = torch.tensor([0.0, 3 / 255, 0.5 / 255, 1.2])
    assert torch.isfinite(d.log_prob(x)).all()  # off-grid values are not rejected in the hot path
    assert d.check_support(x).tolist() == [True, True, False, False]
    assert on_grid(torch.tensor([-1.0, 1.0, 0.0]), -1.0, 1.0, 8).tolist() == [True, True, False]
    assert on_grid(torch.arange(256) / 255.0, 0.0, 1.0, 8).all()


def test_sampling_is_exact_and_seeded():
    loc, scale = torch.tensor([0.1, 0.5, 0.95]), torch.tensor(0.3)
    d = DiscretizedLogistic(loc, scale, n_bits=2)  # 4 values: 0, 1/3, 2/3, 1
    g = torch.Generator().manual_seed(3)
    s = d.sample((40000,), generator=g)
    assert s.shape == (40000, 3) and d.check_support(s).all()
    assert torch.equal(s[:5], d.sample((5,), generator=torch.Generator().manual_seed(3)))
    values = d.support_values()
    freq = (s[..., None] == values).double().mean(0)  # [3, 4]
    probs = d.log_prob(values[:, None]).exp().T
    torch.testing.assert_close(freq, probs.double(), rtol=0, atol=0.015)


def test_mean_is_clamped_location_and_expand():
    d = DiscretizedLogistic(torch.tensor([-0.5, 0.3, 1.5]), torch.tensor(0.1))
    torch.testing.assert_close(d.mean, torch.tensor([0.0, 0.3, 1.0]))
    e = d.expand((2, 3))
    assert e.batch_shape == (2, 3) and e.log_prob(torch.zeros(2, 3)).shape == (2, 3)


@pytest.mark.parametrize("shape", [(3, 8, 8), (2,)])
@pytest.mark.parametrize("per_dim", [False, True])
def test_likelihood_sums_event_dims_and_learns_scale(shape, per_dim):
    lik = DiscretizedLogisticLikelihood(shape, value_range=(-1.0, 1.0), per_dim=per_dim)
    params = dict(lik.named_parameters())
    assert set(params) == {"log_scale"}
    assert params["log_scale"].shape == (shape if per_dim else ())
    loc = torch.randn(4, *shape, requires_grad=True)
    x = (torch.randint(0, 256, (4, *shape)) / 255.0) * 2 - 1
    dist = lik(loc)
    lp = dist.log_prob(x)
    assert lp.shape == (4,)
    torch.testing.assert_close(lp, dist.base_dist.log_prob(x).flatten(1).sum(1))
    lp.sum().backward()
    assert torch.isfinite(params["log_scale"].grad).all() and torch.isfinite(loc.grad).all()
    assert lik.check_support(x).all() and dist.sample().shape == (4, *shape)
    assert dist.mean.shape == (4, *shape)
