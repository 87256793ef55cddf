"""VAE-flow: the flow density (identity start, change of variables), bounds, training, Trainer."""

import math

import pytest
import torch

from lae.distributions import rsample_and_log_prob
from lae.models import MODELS, DataSpec, build_model
from lae.nn import NetConfig
from lae.train import Trainer, load_config

POINTS = DataSpec.points(6)


def vae_flow(latent_dim=2, **kw):
    # No LayerNorm: on tiny batches it dominates CPU time.
    cfg = MODELS["vae-flow"].Config(name="vae-flow", latent_dim=latent_dim, likelihood="gaussian",
                                    net=NetConfig(hidden=16, depth=1, layernorm=False),
                                    flow_hidden=16, **kw)
    return build_model(cfg, POINTS).double()


def randomise_flows(model, scale=0.5):
    """Give every MADE a non-zero last layer, so the flows are no longer the identity."""
    g = torch.Generator().manual_seed(0)
    for module in model.flow.modules():
        if hasattr(module, "hyper"):
            last = module.hyper[-1]
            last.weight.data = scale * torch.randn(last.weight.shape, generator=g,
                                                   dtype=last.weight.dtype)
            last.bias.data = scale * torch.randn(last.bias.shape, generator=g,
                                                 dtype=last.bias.dtype)


@pytest.mark.parametrize("flow", ["iaf", "maf"])
def test_untrained_flows_are_the_identity(flow):
    model = vae_flow(flow=flow)
    x = torch.randn(5, 6, dtype=torch.float64)
    q = model.proposal(x)
    z = q.sample((3,))
    torch.testing.assert_close(q.log_prob(z), q.base.log_prob(z))
    torch.testing.assert_close(model.encode(x), q.base.mean)


@pytest.mark.parametrize("flow", ["iaf", "maf"])
def test_log_prob_is_the_change_of_variables(flow):
    # log q(z) = log N(z_0) - log |det dz/dz_0| with the Jacobian of the sampling map z_0 -> z
    # by autograd, example by example (2-D latent, float64: tolerance 1e-8).
    model = vae_flow(flow=flow)
    randomise_flows(model)
    x = torch.randn(4, 6, dtype=torch.float64)
    q = model.proposal(x)
    z0 = q.base.sample()  # [4, 2]
    z = q.transform.inv(z0)
    assert not torch.allclose(z, z0)  # the flows do something
    jac = torch.autograd.functional.jacobian(lambda u: q.transform.inv(u).sum(0), z0)  # [2, 4, 2]
    log_det = torch.linalg.slogdet(jac.permute(1, 0, 2))[1]  # per example: [4]
    expected = q.base.log_prob(z0) - log_det
    torch.testing.assert_close(q.log_prob(z), expected, rtol=0, atol=1e-8)
    # lae's one-pass z and log q (what training uses, noise from the generator) agree with
    # evaluating the density checked above at those z
    z_fast, log_q = rsample_and_log_prob(q, (2,), torch.Generator().manual_seed(0))
    torch.testing.assert_close(q.log_prob(z_fast), log_q, rtol=0, atol=1e-8)


def test_log_weights_through_the_flow_are_log_px_at_the_exact_posterior_and_below_it_after(
        exact_posterior_vae):
    # Flows at their identity start over a base that is the exact posterior: every log weight
    # (z and log q in one pass through the flows) is the closed-form log p(x). Flows moved away
    # from the identity make q differ from the posterior: the mean log weight drops below
    # log p(x) by KL(q || p(z|x)) > 0, beyond 4 Monte Carlo standard errors.
    model, truth = exact_posterior_vae("vae-flow", flow_hidden=8)
    x = truth.sample_x(16, generator=torch.Generator().manual_seed(1))
    exact = truth.log_marginal(x)
    log_w = model.log_weights(x, 5, torch.Generator().manual_seed(2))
    torch.testing.assert_close(log_w, exact.expand(5, -1), rtol=0, atol=1e-6)
    randomise_flows(model, scale=0.3)
    log_w = model.log_weights(x, 2000, torch.Generator().manual_seed(3))
    gap = exact - log_w.mean(0)
    assert (gap > 4 * log_w.std(0) / math.sqrt(2000)).all(), gap


def test_training_decreases_the_negative_elbo(linear_gaussian_data):
    # 100 Adam steps on linear-Gaussian points; tolerance: the mean of the last 10 steps at least
    # 1 nat below the first 10.
    _, x = linear_gaussian_data(512)
    torch.manual_seed(0)
    model = vae_flow()
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    history = []
    for _ in range(100):
        loss = model.training_step(x[torch.randint(0, 512, (32,))]).losses["loss"]
        opt.zero_grad()
        loss.backward()
        opt.step()
        history.append(loss.item())
    assert sum(history[-10:]) / 10 < sum(history[:10]) / 10 - 1.0
    assert any(p.grad.abs().sum() > 0 for p in model.flow.parameters())  # the flows train


def test_bad_options_are_rejected():
    with pytest.raises(ValueError, match="flow must be"):
        MODELS["vae-flow"].Config(flow="planar")
    with pytest.raises(ValueError, match="n_flows"):
        MODELS["vae-flow"].Config(n_flows=0)


def test_trainer_end_to_end(tmp_path, fast_overrides):
    cfg = load_config("vae-toy2d", fast_overrides + [
        "model.name=vae-flow", "train.epochs=1", "model.n_flows=2", "model.flow_hidden=16",
        "model.net.layernorm=false"])
    summary = Trainer(cfg, tmp_path / "run").fit()
    assert {"neg_elbo_nats", "nll_iwae_nats", "mse_per_dim"} <= set(summary)
