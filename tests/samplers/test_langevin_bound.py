"""The Langevin lower bound (lae/samplers/langevin_bound.py) on the linear-Gaussian model, whose
log p(x) is exact: it stays below log p(x), and learning the step size tightens it."""

import torch

from lae.samplers.langevin_bound import langevin_bound


def _setup(linear_gaussian_data, n_points=4, n_chains=2000, seed=0):
    truth, x = linear_gaussian_data(n_points, seed)
    xs = x.repeat_interleave(n_chains, 0)  # [P * C, D], chains of point p contiguous
    energy_fn = lambda z: -truth.log_joint(xs, z)  # noqa: E731
    log_q0 = lambda z: -0.5 * z.pow(2).sum(-1) - torch.log(torch.tensor(2 * torch.pi,  # noqa: E731
                                                                      dtype=z.dtype))
    return truth, x, xs, energy_fn, log_q0


def _bound(energy_fn, log_q0, n, steps, g, n_points, n_chains):
    z0 = torch.randn(n, 2, dtype=torch.float64, generator=g)
    draws, _ = langevin_bound(energy_fn, log_q0, z0, steps, generator=g)
    return draws.reshape(n_points, n_chains)


def test_no_steps_is_the_prior_elbo_and_the_bound_stays_below_log_px(linear_gaussian_data):
    truth, x, xs, energy_fn, log_q0 = _setup(linear_gaussian_data)
    g = torch.Generator().manual_seed(1)
    z0 = torch.randn(xs.shape[0], 2, dtype=torch.float64, generator=g)
    draws, zk = langevin_bound(energy_fn, log_q0, z0, torch.zeros(0, dtype=torch.float64))
    assert torch.allclose(draws, truth.log_joint(xs, z0) - log_q0(z0))
    exact = truth.log_marginal(x)
    for eta in (0.01, 0.05, 0.2):
        steps = torch.full((20,), eta, dtype=torch.float64)
        b = _bound(energy_fn, log_q0, xs.shape[0], steps, g, 4, 2000)
        mean, se = b.mean(1), b.std(1) / 2000 ** 0.5
        # A lower bound in expectation: allow 4 standard errors of Monte Carlo noise.
        assert (mean <= exact + 4 * se).all(), (eta, mean - exact, se)


def test_learning_the_step_size_tightens_the_bound(linear_gaussian_data):
    truth, x, xs, energy_fn, log_q0 = _setup(linear_gaussian_data, n_chains=500)
    g = torch.Generator().manual_seed(2)
    log_eta = torch.full((10,), -7.0, dtype=torch.float64, requires_grad=True)  # eta ~ 1e-3
    opt = torch.optim.Adam([log_eta], lr=0.1)
    before = _bound(energy_fn, log_q0, xs.shape[0], log_eta.detach().exp(), g, 4, 500)
    for _ in range(80):
        opt.zero_grad()
        b = _bound(energy_fn, log_q0, xs.shape[0], log_eta.exp(), g, 4, 500)
        (-b.mean()).backward()
        opt.step()
    with torch.no_grad():
        after = _bound(energy_fn, log_q0, xs.shape[0], log_eta.exp(), g, 4, 500)
    exact = truth.log_marginal(x)
    se = after.std(1) / 500 ** 0.5
    assert (after.mean(1) <= exact + 4 * se).all()
    # The prior is a poor start (sigma = 0.5 squeezes the posterior): learned steps close most
    # of the gap on every point.
    gap_before, gap_after = exact - before.mean(1), exact - after.mean(1)
    assert (gap_after < 0.5 * gap_before).all(), (gap_before, gap_after)
