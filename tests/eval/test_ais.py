"""AIS and BDMC (lae.eval.ais) against the exact log p(x) of linear-Gaussian models, and the
nll-ais / bdmc metrics end to end."""

from __future__ import annotations

import math

import pytest
import torch

from lae.distributions import LinearGaussian, StandardNormalPrior
from lae.eval.ais import ais_log_px, ais_reverse_log_px, bdmc, beta_schedule
from lae.eval.metrics import EvalSettings, evaluate
from lae.models import MODELS, DataSpec, build_model
from lae.nn import NetConfig

POINTS = DataSpec.points(6, n_train=32)


def _problem(make, d=20, k=2, n=24, sigma=1.0, seed=0):
    lg, x = make(n, seed, d=d, k=k, sigma=sigma, weight_scale=1 / math.sqrt(k), bias_scale=0.5)
    prior = StandardNormalPrior(k).double()
    return lg, x, prior, lambda x, z: lg.log_joint(x, z) - prior.log_prob(z)


def _spread(log_w):
    """Delta-method standard error of logmeanexp over chains, per data point: [B]."""
    w = torch.softmax(log_w, 1) * log_w.shape[1]  # weights / their mean
    return w.std(1) / math.sqrt(log_w.shape[1])


def test_sigmoid_schedule_endpoints_and_monotone():
    b = beta_schedule(100)
    assert b.shape == (101,) and b[0] == 0 and b[-1] == 1 and (b.diff() > 0).all()
    # sigmoid: small steps at both ends, large in the middle
    assert b.diff()[0] < b.diff()[50] > b.diff()[-1]
    torch.testing.assert_close(beta_schedule(4, "linear"), torch.linspace(0, 1, 5,
                                                                          dtype=torch.float64))


def test_one_temperature_is_prior_importance_sampling(linear_gaussian_data):
    # K = 1: z_0 ~ p(z), log w = log p(x | z_0), no transition: the same draws give the same number
    lg, x, prior, ll = _problem(linear_gaussian_data)
    est, diag = ais_log_px(prior, ll, x, n_chains=32, n_temps=1,
                           generator=torch.Generator().manual_seed(5))
    z = prior.sample(x.shape[0] * 32, generator=torch.Generator().manual_seed(5))
    log_w = ll(x.repeat_interleave(32, 0), z).view(-1, 32)
    torch.testing.assert_close(est, torch.logsumexp(log_w, 1) - math.log(32))
    assert diag.grad_evals_per_chain == 1


@pytest.mark.parametrize("kernel", ["hmc", "mala"])
def test_lower_and_upper_bounds_sandwich_exact(kernel, linear_gaussian_data):
    lg, x, prior, ll = _problem(linear_gaussian_data)
    exact = lg.log_marginal(x)
    kw = dict(n_chains=16, n_temps=300, kernel=kernel, chunk_size=10,
              generator=torch.Generator().manual_seed(1))
    lower, d_lo = ais_log_px(prior, ll, x, **kw)
    upper, d_up = ais_reverse_log_px(prior, ll, x, lg.posterior(x).sample(), **kw)
    assert lower.shape == upper.shape == (24,)
    # tolerance from the chain-to-chain spread: 4 standard errors per point + 0.02 nats
    tol_lo = 4 * _spread(d_lo.log_weights) + 0.02
    tol_up = 4 * _spread(d_up.log_weights) + 0.02
    assert ((lower - exact).abs() < tol_lo).all()
    assert ((upper - exact).abs() < tol_up).all()
    # on average: lower below exact, upper above (slack: 3 standard errors of the mean)
    slack_lo = 3 * tol_lo.div(4).pow(2).sum().sqrt() / 24
    slack_up = 3 * tol_up.div(4).pow(2).sum().sqrt() / 24
    assert (lower - exact).mean() < slack_lo
    assert (upper - exact).mean() > -slack_up
    assert 0.4 < d_lo.acceptance_final < 0.9


def test_pilot_adaptation_runs_with_a_frozen_schedule(linear_gaussian_data):
    lg, x, prior, ll = _problem(linear_gaussian_data, n=6)
    est, diag = ais_log_px(prior, ll, x, n_chains=8, n_temps=100, adapt="pilot",
                           generator=torch.Generator().manual_seed(2))
    assert (est - lg.log_marginal(x)).abs().max() < 0.5
    assert diag.grad_evals_per_chain == 100 and diag.pilot_grad_evals_per_chain == 25


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bdmc_on_a_linear_vae_brackets_the_exact_log_px(seed):
    # A VAE with a linear decoder is a linear-Gaussian model: the exact log p(x) is known.
    torch.manual_seed(seed)
    cfg = MODELS["vae"].Config(name="vae", latent_dim=2, net=NetConfig(depth=0),
                               likelihood="gaussian", likelihood_options={"sigma": 0.5})
    model = build_model(cfg, POINTS).double()
    linear = [m for m in model.decoder.modules() if isinstance(m, torch.nn.Linear)][0]
    lg = LinearGaussian(linear.weight.detach(), linear.bias.detach(), 0.5)
    out = bdmc(model, 16, n_chains=8, n_temps=500, generator=torch.Generator().manual_seed(seed))
    exact = lg.log_marginal(out["x"])
    # 0.3 nats per point: with M = 8 chains and 500 temperatures the per-point AIS error has a
    # standard deviation of about 0.07 nats here (max over 16 points ~0.2; 12 of 12 seeds pass,
    # while 200 temperatures failed 1 of 12): a bias of that size would be a real defect.
    assert out["gap"].shape == (16,) and out["gap_mean"] > -0.05
    assert (out["lower"] - exact).abs().max() < 0.3 and (out["upper"] - exact).abs().max() < 0.3
    assert out["lower_mean"] <= exact.mean().item() + 0.05 <= out["upper_mean"] + 0.1


@pytest.mark.parametrize("name", ["vae", "ld"])
def test_nll_ais_and_bdmc_metrics_end_to_end(name):
    torch.manual_seed(0)
    net = NetConfig(hidden=16, depth=1, layernorm=False)
    model = build_model(MODELS[name].Config(name=name, latent_dim=2, net=net,
                                            likelihood="gaussian"), POINTS)
    x = torch.randn(5, 6)
    s = EvalSettings(ais_chains=4, ais_temps=20, bdmc_n_sim=3, batch_size=2)
    res = evaluate(model, x, ["nll-ais", "bdmc"], s)
    m = res["metrics"]
    assert not res["skipped"]
    assert set(m) >= {"nll_ais_nats", "bdmc_gap_nats"}
    for r in m.values():
        assert math.isfinite(r["value"]) and math.isfinite(r["stderr"])
    st = m["nll_ais_nats"]["settings"]
    assert (st["M"], st["K"], st["kernel"], st["leapfrog"]) == (4, 20, "hmc", 1)
    assert 0 <= st["final_mean_acceptance"] <= 1
    assert m["nll_ais_nats"]["n"] == 5 and m["bdmc_gap_nats"]["n"] == 3
    # BDMC scores its simulated points: it records n_sim, not the 5 test examples it never read
    assert m["bdmc_gap_nats"]["settings"]["n_sim"] == 3
    assert "n_examples" not in m["bdmc_gap_nats"]["settings"]
    assert m["nll_ais_nats"]["settings"]["n_examples"] == 5


def test_ais_reports_its_progress_one_transition_at_a_time(monkeypatch):
    # `lae eval` was silent for minutes on AIS: the bar counts every transition of the pilot and
    # the estimating runs of every chunk, so its total is reached exactly when AIS ends.
    import lae.eval.ais as ais

    bars = []

    class Recorder:
        def __init__(self, total, desc, disable, **kwargs):
            self.total, self.desc, self.disable, self.n, self.closed = total, desc, disable, 0, 0
            bars.append(self)

        def update(self, n=1):
            self.n += n

        def close(self):
            self.closed += 1

    monkeypatch.setattr(ais, "tqdm", Recorder)
    prior = StandardNormalPrior(2).double()
    truth = LinearGaussian(torch.eye(6, 2, dtype=torch.float64),
                           torch.zeros(6, dtype=torch.float64), 1.0)
    x = truth.sample_x(5, generator=torch.Generator().manual_seed(0))
    ais.ais_log_px(prior, lambda xb, z: truth.log_joint(xb, z) - prior.log_prob(z), x,
                   n_chains=4, n_temps=7, chunk_size=2, progress="nll-ais",
                   generator=torch.Generator().manual_seed(1))
    (bar,) = bars
    n_betas = len(ais.beta_schedule(7))
    assert bar.desc == "nll-ais" and bar.disable is None  # shown on a terminal only
    assert bar.total == 3 * 2 * (n_betas - 2) == bar.n and bar.closed == 1  # 3 chunks, pilot


@pytest.mark.parametrize("name", ["mala", "hmc"])
def test_an_ais_transition_is_the_sampler_kernel_at_the_tempered_energy(name,
                                                                      linear_gaussian_data):
    """AIS moves its chains with lae.samplers' kernels: a transition of the cached tempered state
    at beta equals the kernel's ordinary step on U_beta(z) = -(log p(z) + beta log p(x|z)) with
    the same random numbers (float64; only the summation order of the energy may differ)."""
    from lae.eval.ais import KERNELS, _evaluate
    from lae.samplers.kernels import build_kernel

    assert set(KERNELS) == {"mala", "hmc"}  # the registered kernels with an MH test
    _, x, prior, log_lik = _problem(linear_gaussian_data, n=8)
    beta = 0.37
    z = torch.randn(8, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    kernel = build_kernel(name, torch.full((8,), 0.2, dtype=torch.float64), n_leapfrog=3)

    def energy(zz):
        return -(prior.log_prob(zz) + beta * log_lik(x, zz))

    tempered, info = kernel.transition(
        _evaluate(prior.log_prob, log_lik, x, z, beta),
        lambda zz: _evaluate(prior.log_prob, log_lik, x, zz, beta),
        torch.Generator().manual_seed(7))
    plain, plain_info = kernel.step(kernel.init(z, energy), energy,
                                    torch.Generator().manual_seed(7))
    torch.testing.assert_close(tempered.z, plain.z, rtol=0, atol=1e-12)
    torch.testing.assert_close(tempered.energy, plain.energy, rtol=0, atol=1e-10)
    torch.testing.assert_close(info.acceptance, plain_info.acceptance, rtol=0, atol=1e-10)
    assert 0 < float(info.acceptance.mean()) < 1  # some moves accepted, some not: a real test
