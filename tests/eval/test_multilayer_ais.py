"""AIS over the joint latent of a two-layer top-down generator, against its closed-form marginal.

With linear networks and a layer scale that does not depend on the layer above, the generator
z_2 ~ N(0, I), z_1 = A z_2 + c + s * eps_1, x = W z_1 + b + sigma * e is linear-Gaussian in the
standardised noise [z_2, eps_1]: x ~ N(m, M M^T + sigma^2 I) with M = d mean / d [z_2, eps_1] and
m the mean at zero noise. The model is built the way presets build it (``latent_layers``), so the
test covers the TopDown network, the flat latent and the AIS metric together.
"""

from __future__ import annotations

import math

import torch
from torch.distributions import MultivariateNormal

from lae.eval.ais import ais_log_px
from lae.eval.metrics import EvalSettings, evaluate
from lae.models import MODELS, DataSpec, build_model
from lae.nn import NetConfig, TopDown


def _linear_two_layer_model(seed: int = 0):
    torch.manual_seed(seed)
    cfg = MODELS["shortrun"].Config(
        name="shortrun", latent_dim=5, latent_layers=[2, 3], likelihood="gaussian",
        net=NetConfig(hidden=8, depth=0, layernorm=False, topdown_hidden=0))
    model = build_model(cfg, DataSpec.points(6)).double()
    topdown = model.decoder
    assert isinstance(topdown, TopDown)
    layer = topdown.transitions[0][-1]  # Linear(2 -> 2 * 3): the mean, then the raw scale
    with torch.no_grad():
        layer.weight[3:] = 0.0  # a scale that does not depend on z_2: the model is linear
        layer.bias[3:] = torch.tensor([-1.0, 0.5, 2.0], dtype=torch.float64)
        layer.bias[:3] = torch.tensor([0.3, -0.2, 0.1], dtype=torch.float64)
    mean0 = model.decode(torch.zeros(1, 5, dtype=torch.float64)).mean[0]
    jac = torch.autograd.functional.jacobian(
        lambda z: model.decode(z[None]).mean[0], torch.zeros(5, dtype=torch.float64))  # [6, 5]
    marginal = MultivariateNormal(mean0, jac @ jac.T + torch.eye(6, dtype=torch.float64))
    return model, marginal


def test_the_two_layer_generator_is_the_closed_form_linear_gaussian():
    # the generator really is hierarchical: z_1's scale is softplus(bias + 0.541), not 1.
    # Data simulated through the model (prior, TopDown, likelihood) has the closed form's mean
    # and covariance: with 20000 draws the sampling error of a covariance entry of size ~3 is
    # ~0.03 and of a mean ~0.015, so 0.1 absolute + 5 % is over 3 standard errors.
    model, marginal = _linear_two_layer_model()
    g = torch.Generator().manual_seed(1)
    z = model.prior.sample(20000, generator=g).double()
    sim = model.decode(z).mean + torch.randn(20000, 6, dtype=torch.float64, generator=g)
    torch.testing.assert_close(sim.T.cov(), marginal.covariance_matrix, atol=0.1, rtol=0.05)
    torch.testing.assert_close(sim.mean(0), marginal.mean, atol=0.06, rtol=0)


def test_ais_over_both_layers_matches_the_exact_marginal():
    model, marginal = _linear_two_layer_model()
    g = torch.Generator().manual_seed(3)
    x = marginal.sample((16,))
    exact = marginal.log_prob(x)
    est, diag = ais_log_px(model.prior, model.log_likelihood, x, n_chains=16, n_temps=300,
                           generator=g)
    w = torch.softmax(diag.log_weights, 1) * 16
    stderr = w.std(1) / math.sqrt(16)  # delta-method standard error per point
    # 4 standard errors per point + 0.02 nats (as the single-layer AIS test)
    assert ((est - exact).abs() < 4 * stderr + 0.02).all(), (est - exact)

    res = evaluate(model, x, ["nll-ais"],
                   EvalSettings(ais_chains=16, ais_temps=300, batch_size=8))
    nll = res["metrics"]["nll_ais_nats"]
    # the metric is the mean NLL over the 16 points; its stderr is over points, so compare the
    # mean error with 4 of the per-point AIS standard errors' mean (they are tiny here)
    assert abs(nll["value"] + exact.mean().item()) < 4 * stderr.mean().item() + 0.05
