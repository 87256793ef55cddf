"""VAE: objectives, and its log-likelihood pieces against a linear-Gaussian model."""

import math

import pytest
import torch

from lae.distributions import LinearGaussian
from lae.models import MODELS, DataSpec, build_model
from lae.nn import NetConfig

POINTS = DataSpec.points(6)


def linear_vae(sigma=0.5, **kw):
    """A VAE with a linear decoder (MLP with no hidden layer), likelihood N(Wz + b, sigma^2)."""
    cfg = MODELS["vae"].Config(name="vae", latent_dim=2, net=NetConfig(depth=0),
                               likelihood="gaussian", likelihood_options={"sigma": sigma}, **kw)
    return build_model(cfg, POINTS).double()


def as_linear_gaussian(vae, sigma=0.5):
    linear = [m for m in vae.decoder.modules() if isinstance(m, torch.nn.Linear)]
    assert len(linear) == 1
    return LinearGaussian(linear[0].weight.detach(), linear[0].bias.detach(), sigma)


def test_log_joint_matches_linear_gaussian_closed_form():
    vae = linear_vae()
    lg = as_linear_gaussian(vae)
    x = lg.sample_x(7, generator=torch.Generator().manual_seed(0))
    z = torch.randn(7, 2, dtype=torch.float64)
    torch.testing.assert_close(vae.log_joint(x, z), lg.log_joint(x, z))


@pytest.mark.parametrize("objective,k", [("elbo", 1), ("elbo", 4), ("iwae", 5)])
def test_training_step_returns_finite_scalar_loss(objective, k):
    vae = linear_vae(objective=objective, k=k)
    out = vae.training_step(torch.randn(8, 6, dtype=torch.float64))
    assert set(out.losses) == {"loss"} and out.losses["loss"].shape == ()
    assert torch.isfinite(out.losses["loss"])
    out.losses["loss"].backward()
    assert all(p.grad is not None for p in vae.encoder.parameters())


def test_log_weights_of_the_exact_posterior_are_log_px_and_a_shifted_q_pays_its_kl(
        exact_posterior_vae):
    # With q(z|x) = p(z|x) every importance weight is p(x): the ELBO and the IWAE bound equal
    # the closed-form log p(x) for every draw (to 1e-6 nats: float64 rounding through
    # softplus). Shifting q's mean by delta lowers the expected log weight by exactly
    # KL(q || p(z|x)) = delta^T Sigma^-1 delta / 2; its Monte Carlo mean over 4000 draws is
    # compared within 4 standard errors.
    vae, truth = exact_posterior_vae("vae", objective="iwae", k=5)
    x = truth.sample_x(16, generator=torch.Generator().manual_seed(1))
    exact = truth.log_marginal(x)
    log_w = vae.log_weights(x, 7, torch.Generator().manual_seed(2))
    torch.testing.assert_close(log_w, exact.expand(7, -1), rtol=0, atol=1e-6)
    out = vae.training_step(x, None, torch.Generator().manual_seed(3))
    for key in ("elbo_nats", "bound_nats"):
        torch.testing.assert_close(out.metrics[key], exact.mean(), rtol=0, atol=1e-6)
    delta = torch.tensor([0.3, -0.2], dtype=torch.float64)
    with torch.no_grad():
        vae.encoder.head.bias[:2] += delta
    kl = 0.5 * (delta**2 / truth.posterior(x).covariance_matrix[0].diagonal()).sum()
    log_w = vae.log_weights(x, 4000, torch.Generator().manual_seed(4))  # [4000, 16]
    gap = exact - log_w.mean(0)
    stderr = log_w.std(0) / math.sqrt(4000)
    assert ((gap - kl).abs() < 4 * stderr + 1e-6).all(), (gap, kl)


def test_elbo_training_fits_the_linear_gaussian_marginal(linear_gaussian_data):
    # Data from a linear-Gaussian model; a linear VAE trained on the ELBO should approach the
    # exact log-likelihood of the true model (tolerance 0.3 nats per point: finite training).
    truth, x = linear_gaussian_data(2000)
    torch.manual_seed(0)
    vae = linear_vae()
    opt = torch.optim.Adam(vae.parameters(), lr=1e-2)
    for _ in range(1500):
        idx = torch.randint(0, 2000, (200,))
        loss = vae.training_step(x[idx]).losses["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
    fitted = as_linear_gaussian(vae)
    gap = (truth.log_marginal(x) - fitted.log_marginal(x)).mean().item()
    assert gap < 0.3, gap


def test_bad_options_are_rejected():
    with pytest.raises(ValueError, match="objective"):
        MODELS["vae"].Config(objective="nope")
    with pytest.raises(ValueError, match="k must be"):
        MODELS["vae"].Config(k=0)


def test_infovae_with_alpha_0_and_lambda_1_is_the_vae_elbo():
    # the objective's weights (1 - alpha, alpha + lambda - 1) = (1, 0): log p(x|z) - KL on the
    # same single draw is the VAE's one-sample ELBO, to rounding
    torch.manual_seed(0)
    cfg = MODELS["infovae"].Config(name="infovae", latent_dim=2, alpha=0.0, lam=1.0,
                                   net=NetConfig(hidden=16, depth=1))
    model = build_model(cfg, DataSpec.points(6)).double()
    x = torch.randn(8, 6, dtype=torch.float64)
    info = model.training_step(x, None, torch.Generator().manual_seed(3)).losses["loss"]
    elbo = model.log_weights(x, 1, torch.Generator().manual_seed(3)).mean()
    torch.testing.assert_close(info, -elbo)


@pytest.mark.parametrize("kernel", ["rbf", "imq"])
def test_infovae_mmd_term_separates_a_collapsed_aggregate_posterior(kernel):
    # the MMD-VAE's penalty is near 0 when q(z) matches the prior and large when every code
    # sits at one point
    from lae.distributions.mmd import mmd2_unbiased

    g = torch.Generator().manual_seed(0)
    prior_draws = torch.randn(200, 2, generator=g)
    matched = mmd2_unbiased(torch.randn(200, 2, generator=g), prior_draws, 2 ** 0.5, kernel)
    collapsed = mmd2_unbiased(torch.full((200, 2), 0.5) + 1e-3 * torch.randn(200, 2,
                              generator=g), prior_draws, 2 ** 0.5, kernel)
    assert abs(matched) < 0.02 and collapsed > 0.1, (matched, collapsed)  # measured 0.2-0.3
    with pytest.raises(ValueError, match="kernel"):
        MODELS["infovae"].Config(name="infovae", kernel="cosine")
