"""The reconstruction protocols of the mse metric (``--mse-inference``), against the closed form
of a linear-Gaussian model: there the posterior is Gaussian, so its mode is its mean,
(W^T W / s^2 + I)^-1 W^T (x - b) / s^2."""

import torch

from lae.distributions import LinearGaussian
from lae.eval.metrics import EvalSettings, evaluate
from lae.models import MODELS, DataSpec, build_model
from lae.nn import NetConfig

POINTS = DataSpec.points(6)


def _linear_vae():
    cfg = MODELS["vae"].Config(name="vae", latent_dim=2, net=NetConfig(depth=0),
                               likelihood="gaussian", likelihood_options={"sigma": 0.5})
    torch.manual_seed(0)
    vae = build_model(cfg, POINTS).double()
    (linear,) = [m for m in vae.decoder.modules() if isinstance(m, torch.nn.Linear)]
    return vae, LinearGaussian(linear.weight.detach(), linear.bias.detach(), 0.5)


def _mse(model, x, **settings):
    results = evaluate(model, x, ["mse"], EvalSettings(batch_size=16, **settings))["metrics"]
    (key,) = results
    return key, results[key]


def test_the_mode_protocol_reaches_the_closed_form_posterior_mode():
    vae, lg = _linear_vae()
    x = lg.sample_x(40, generator=torch.Generator().manual_seed(1))
    mode = lg.posterior(x).mean
    exact = (mode @ lg.weight.T + lg.bias - x).pow(2).mean(1)  # per point, data scale
    key, res = _mse(vae, x, mse_inference="mode", mse_steps=300)
    assert key == "mse_mode_per_dim" and "posterior mode" in res["settings"]["inference"]
    # the descent converges to the mode well within float64: the means agree to 1e-8
    assert abs(res["value"] - exact.mean().item()) < 1e-8
    # the untrained encoder's infer() is far from the mode, so the protocol matters here
    key, infer = _mse(vae, x)
    assert key == "mse_per_dim" and infer["value"] > res["value"] + 0.01


def test_the_noise_free_protocol_is_plain_gradient_descent_from_its_start():
    vae, lg = _linear_vae()
    x = lg.sample_x(20, generator=torch.Generator().manual_seed(2))
    mode = lg.posterior(x).mean
    exact = (mode @ lg.weight.T + lg.bias - x).pow(2).mean(1).mean().item()
    # a step below 2 / (largest curvature) converges from any start, the prior's included
    curvature = torch.linalg.eigvalsh(lg.weight.T @ lg.weight / 0.25
                                      + torch.eye(2, dtype=torch.float64)).max().item()
    for start in ("infer", "prior"):
        key, res = _mse(vae, x, mse_inference="noise-free", mse_steps=2000,
                        mse_step_size=1 / curvature, mse_start=start)
        assert key == "mse_noise_free_per_dim"
        assert abs(res["value"] - exact) < 1e-8, start
    # a few steps from the prior are not there yet: the steps are the protocol's, not a search
    _, short = _mse(vae, x, mse_inference="noise-free", mse_steps=1,
                    mse_step_size=1 / curvature, mse_start="prior")
    assert short["value"] > exact + 1e-3


def test_a_diverged_noise_free_chain_is_an_error_naming_the_step():
    # was: nan +- nan written as the result, exit 0
    import pytest

    from lae.errors import ConfigError

    vae, lg = _linear_vae()
    x = lg.sample_x(8, generator=torch.Generator().manual_seed(3))
    with pytest.raises(ConfigError, match="diverged.*--mse-step-size 1e"):
        _mse(vae, x, mse_inference="noise-free", mse_steps=200, mse_step_size=1e6)
