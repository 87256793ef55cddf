"""The IWAE estimator against the exact log p(x) of a linear-Gaussian model."""

import math

import torch
from torch.distributions import Independent, Normal

from lae.eval.importance import iwae_log_px


def _model(make, d=6, k=2, sigma=0.7, seed=0):
    return make(20, seed, d=d, k=k, sigma=sigma)


def test_exact_posterior_proposal_gives_exact_log_px_with_one_sample(linear_gaussian_data):
    # With q = p(z|x) every importance weight equals p(x): the estimate is exact for any k.
    lg, x = _model(linear_gaussian_data)
    torch.manual_seed(1)
    est = iwae_log_px(lg.log_joint, lg.posterior(x), x, k=1)
    torch.testing.assert_close(est, lg.log_marginal(x), rtol=0, atol=1e-9)


def test_bound_tightens_with_k_and_stays_below_exact(linear_gaussian_data):
    # A poor proposal (the prior, inflated): the IWAE-k mean increases with k toward log p(x).
    lg, x = _model(linear_gaussian_data)
    proposal = Independent(Normal(torch.zeros(20, 2, dtype=torch.float64),
                                  1.5 * torch.ones(20, 2, dtype=torch.float64)), 1)
    exact = lg.log_marginal(x)
    torch.manual_seed(0)
    gaps = [(exact - iwae_log_px(lg.log_joint, proposal, x, k=k, chunk=64)).mean().item()
            for k in (1, 16, 4096)]
    assert gaps[0] > gaps[1] > gaps[2] > -0.05  # -0.05: Monte Carlo slack of the k=4096 mean
    assert gaps[2] < 0.1


def test_chunking_does_not_change_the_estimate(linear_gaussian_data):
    lg, x = _model(linear_gaussian_data)
    proposal = lg.posterior(x)
    torch.manual_seed(3)
    a = iwae_log_px(lg.log_joint, proposal, x, k=10, chunk=10)
    torch.manual_seed(3)
    b = iwae_log_px(lg.log_joint, proposal, x, k=10, chunk=3)
    assert a.shape == (20,) and torch.isfinite(b).all()
    torch.testing.assert_close(a, lg.log_marginal(x))
    torch.testing.assert_close(b, lg.log_marginal(x))


def test_linear_gaussian_log_joint_integrates_to_marginal(linear_gaussian_data):
    # Numerical check of the closed forms in 1-D latent space: the integral of p(x, z) over z.
    lg, x = _model(linear_gaussian_data, d=3, k=1)
    z = torch.linspace(-12, 12, 20001, dtype=torch.float64)[:, None]
    for i in range(3):
        log_pj = lg.log_joint(x[i].expand(z.shape[0], -1), z)
        integral = torch.logsumexp(log_pj, 0) + math.log(z[1, 0] - z[0, 0])
        assert abs(integral.item() - lg.log_marginal(x[i:i + 1]).item()) < 1e-6
