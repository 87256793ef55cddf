"""The Gauss-Newton metric (lae/samplers/metric.py) against exact answers: the exact Hessian of U
for a linear decoder, the closed-form moments of a preconditioned chain on a Gaussian target,
the plain Langevin bound when the metric is the identity, and a bound that stays below log p(x)."""

import pytest
import torch

from lae.models import DataSpec
from lae.models.shortrun import ShortRun
from lae.nn import NetConfig
from lae.samplers.langevin_bound import langevin_bound
from lae.samplers.metric import gauss_newton_precision

D = torch.float64


def test_for_a_linear_decoder_it_is_the_exact_hessian_of_a_log_concave_likelihood():
    # logistic likelihood in its location (log-concave, not Gaussian): with a linear decoder the
    # Gauss-Newton matrix has no dropped term, so it equals the Hessian of U exactly
    g = torch.Generator().manual_seed(0)
    weight, x = torch.randn(5, 3, generator=g, dtype=D), torch.randn(4, 5, generator=g, dtype=D)
    scale = 0.3
    decoder = lambda z: z @ weight.T  # noqa: E731

    z = torch.randn(4, 3, generator=g, dtype=D)
    got = gauss_newton_precision(decoder, lambda o: _logistic_nll(x, o, scale), z)
    for i in range(4):
        energy = lambda zi: _logistic_nll(x[i], decoder(zi), scale) + 0.5 * zi.pow(2).sum()  # noqa: E731,B023
        exact = torch.autograd.functional.hessian(energy, z[i])
        assert torch.allclose(got[i], exact, atol=1e-10), (got[i], exact)


def _logistic_nll(x, o, scale):
    u = (x - o) / scale
    log_scale = torch.log(torch.tensor(scale, dtype=D))
    return (u + 2 * torch.nn.functional.softplus(-u) + log_scale).sum(-1)


def _linear_shortrun(metric: str, sigma: float = 0.1, **kw) -> ShortRun:
    torch.manual_seed(0)
    cfg = ShortRun.Config(latent_dim=2, n_steps=4, step_size=0.3, metric=metric,
                          likelihood="gaussian", likelihood_options={"sigma": sigma},
                          net=NetConfig(depth=0), **kw)
    model = ShortRun(cfg, DataSpec.points(3)).double()
    linear = next(m for m in model.decoder.modules() if isinstance(m, torch.nn.Linear))
    with torch.no_grad():  # singular values 3 and 0.05: posterior sd 0.033 and 0.89
        basis, _ = torch.linalg.qr(torch.randn(3, 2, dtype=D))
        linear.weight.copy_(basis * torch.tensor([3.0, 0.05], dtype=D))
        linear.bias.copy_(torch.randn(3, dtype=D))
    return model


def test_the_preconditioned_chain_has_its_closed_form_moments_on_a_gaussian_posterior():
    # With the exact precision G, z' - mu = (1 - eta)(z - mu) + sqrt(2 eta) G^{-1/2} xi, so from
    # z_0 ~ N(0, I) after K steps: mean mu + (1 - eta)^K (0 - mu), covariance
    # (1 - eta)^{2K} I + 2 eta sum_{j<K} (1 - eta)^{2j} G^{-1}. The plain chain at its stability
    # limit would leave the flat direction (sd 0.89) almost where the prior put it.
    model, n = _linear_shortrun("gauss-newton"), 40000
    eta, k = 0.3, 4
    linear = next(m for m in model.decoder.modules() if isinstance(m, torch.nn.Linear))
    w, b = linear.weight.detach(), linear.bias.detach()
    precision = w.T @ w / 0.1**2 + torch.eye(2, dtype=D)
    x = torch.tensor([[0.3, -0.2, 0.5]], dtype=D)
    mu = torch.linalg.solve(precision, w.T @ (x[0] - b) / 0.1**2)
    z = model.run(x.expand(n, -1), generator=torch.Generator().manual_seed(1))
    mean = mu * (1 - (1 - eta) ** k)
    cov = (1 - eta) ** (2 * k) * torch.eye(2, dtype=D) + 2 * eta * sum(
        (1 - eta) ** (2 * j) for j in range(k)) * torch.linalg.inv(precision)
    # 5 standard errors of the Monte Carlo mean; covariance entries within 5% of the largest
    # (the sampling sd of a covariance entry from 40,000 draws is under 1% of it)
    se = cov.diagonal().sqrt() / n**0.5
    assert ((z.mean(0) - mean).abs() < 5 * se).all(), (z.mean(0), mean, se)
    assert torch.allclose(torch.cov(z.T), cov, atol=0.05 * cov.abs().max()), (torch.cov(z.T), cov)


def test_with_the_identity_metric_it_is_the_plain_bound():
    g = torch.Generator().manual_seed(0)
    weight, x = torch.randn(4, 2, generator=g, dtype=D), torch.randn(1, 4, generator=g, dtype=D)
    energy = lambda z: 0.5 * ((x - z @ weight.T) ** 2).sum(-1) / 0.25 + 0.5 * z.pow(2).sum(-1)  # noqa: E731
    log_q0 = lambda z: -0.5 * z.pow(2).sum(-1)  # noqa: E731
    z0 = torch.randn(50, 2, generator=g, dtype=D)
    steps = torch.tensor([[0.01, 0.02], [0.03, 0.01], [0.02, 0.02]], dtype=D)
    reverse = (torch.full((3, 2), 0.02, dtype=D), torch.full((3, 2), 0.015, dtype=D))
    identity = lambda z: torch.eye(2, dtype=D).expand(z.shape[0], 2, 2)  # noqa: E731
    plain, z_plain = langevin_bound(energy, log_q0, z0, steps, reverse,
                                    generator=torch.Generator().manual_seed(3))
    metric, z_metric = langevin_bound(energy, log_q0, z0, steps, reverse,
                                      generator=torch.Generator().manual_seed(3),
                                      precision_fn=identity)
    assert torch.allclose(z_plain, z_metric, rtol=1e-10, atol=1e-12)
    assert torch.allclose(plain, metric, rtol=1e-9), (plain - metric).abs().max()


def test_the_preconditioned_bound_stays_below_log_px(linear_gaussian_data):
    truth, x = linear_gaussian_data(3, 0)
    n = 3000
    xs = x.repeat_interleave(n, 0)
    precision_fn = lambda z: gauss_newton_precision(  # noqa: E731
        lambda v: v @ truth.weight.T + truth.bias,
        lambda o: 0.5 * ((xs - o) ** 2).sum(-1) / truth.sigma**2, z)
    log_q0 = lambda z: torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)  # noqa: E731
    g = torch.Generator().manual_seed(0)
    exact = truth.log_marginal(x)
    for eta in (0.1, 0.5, 1.0):
        z0 = torch.randn(xs.shape[0], 2, dtype=D, generator=g)
        draws, _ = langevin_bound(lambda z: -truth.log_joint(xs, z), log_q0, z0,
                                  torch.full((5,), eta, dtype=D), generator=g,
                                  precision_fn=precision_fn)
        draws = draws.reshape(3, n)
        mean, se = draws.mean(1), draws.std(1) / n**0.5
        # a lower bound in expectation: 4 standard errors of Monte Carlo noise
        assert (mean <= exact + 4 * se).all(), (eta, mean - exact, se)


def test_the_metric_is_a_checked_setting():
    with pytest.raises(ValueError, match="metric must be one of identity, gauss-newton"):
        ShortRun.Config(latent_dim=2, metric="newton")


@pytest.mark.parametrize("metric", ["identity", "gauss-newton"])
def test_with_the_start_as_first_reverse_kernel_one_step_is_the_elbo_of_its_gaussian(
        linear_gaussian_data, metric):
    # K = 1 and B_1 = q_0: the bound is E_{z_0}[ELBO of q(z_1 | z_0) = N(mu + A (z_0 - mu), S)],
    # with A = I - eta Lambda, S = 2 eta I for the plain step and A = (1 - eta) I,
    # S = 2 eta Lambda^{-1} for the Gauss-Newton one (Lambda the posterior precision). Closed
    # form: log p(x) - (tr(A^T Lambda A (I + mu mu^T)) + tr(Lambda S)) / 2
    #        - log det(2 pi Lambda^{-1}) / 2 + log det(2 pi e S) / 2.
    truth, x = linear_gaussian_data(1, 0)
    n, eta = 200000, 0.3 if metric == "gauss-newton" else 0.05
    xs = x.expand(n, -1)
    lam = torch.linalg.inv(truth.posterior_cov)
    mu = truth.posterior(x).mean[0]
    precision_fn = None if metric == "identity" else (lambda z: lam.expand(z.shape[0], 2, 2))
    eye = torch.eye(2, dtype=D)
    a, s = ((eye - eta * lam, 2 * eta * eye) if metric == "identity"
            else ((1 - eta) * eye, 2 * eta * truth.posterior_cov))
    closed = (truth.log_marginal(x)[0]
              - 0.5 * (torch.trace(a.T @ lam @ a @ (eye + torch.outer(mu, mu)))
                       + torch.trace(lam @ s))
              - 0.5 * torch.logdet(2 * torch.pi * truth.posterior_cov)
              + 0.5 * torch.logdet(2 * torch.pi * torch.e * s))
    g = torch.Generator().manual_seed(0)
    log_q0 = lambda z: torch.distributions.Normal(0.0, 1.0).log_prob(z).sum(-1)  # noqa: E731
    draws, _ = langevin_bound(lambda z: -truth.log_joint(xs, z), log_q0,
                              torch.randn(n, 2, dtype=D, generator=g),
                              torch.full((1,), eta, dtype=D), generator=g,
                              precision_fn=precision_fn, first_reverse_start=True)
    se = draws.std() / n**0.5
    assert abs(draws.mean() - closed) < 4 * se, (draws.mean(), closed, se)  # 4 standard errors
