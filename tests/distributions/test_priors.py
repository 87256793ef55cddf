"""Standard normal prior: closed form, distribution view, sampling, device/dtype handling."""

import math

import pytest
import torch
from torch import distributions as D

from lae.distributions import StandardNormalPrior
from lae.errors import ConfigError


def test_log_prob_matches_closed_form_and_torch():
    prior = StandardNormalPrior(4)
    z = torch.randn(6, 4)
    closed = -0.5 * (z**2).sum(1) - 2 * math.log(2 * math.pi)
    torch.testing.assert_close(prior.log_prob(z), closed)
    torch.testing.assert_close(prior().log_prob(z), closed)
    torch.testing.assert_close(D.Normal(0.0, 1.0).log_prob(z).sum(1), closed)


def test_distribution_shapes_and_sampling():
    prior = StandardNormalPrior(3)
    dist = prior()
    assert dist.batch_shape == () and dist.event_shape == (3,)
    s = prior.sample(5, generator=torch.Generator().manual_seed(0))
    assert s.shape == (5, 3)
    assert torch.equal(s, prior.sample(5, generator=torch.Generator().manual_seed(0)))
    assert dist.sample((7,), generator=torch.Generator().manual_seed(0)).shape == (7, 3)


def test_buffers_follow_dtype_and_stay_out_of_checkpoints():
    prior = StandardNormalPrior(2).double()
    assert prior.sample(3).dtype == torch.float64 and prior().mean.dtype == torch.float64
    assert prior.state_dict() == {} and list(prior.parameters()) == []


@pytest.mark.parametrize("dim", [0, -1, 2.5, True])
def test_bad_dim(dim):
    with pytest.raises(ConfigError, match="dim"):
        StandardNormalPrior(dim)
