"""Priors as objects: the standard normal (closed form, distribution view, sampling, device and
dtype), a normal with a scale, the flow and latent-EBM priors (normalisation flags, bases,
sampling), the amortized ALD prior sampler on N(0, I) and on eight Gaussians, and the registry's
errors."""

import math

import pytest
import torch
from torch import distributions as D

from lae.distributions import (
    FlowPrior,
    LatentEBMPrior,
    NormalPrior,
    StandardNormalPrior,
    build_prior,
)
from lae.errors import ConfigError
from lae.toy.energy import ald_prior_sampler_on_eight_gaussians


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


def test_normal_prior_with_a_scale_is_the_closed_form():
    prior = NormalPrior(3, scale=2.0).double()
    z = torch.randn(5, 3, dtype=torch.float64)
    exact = torch.distributions.Normal(0.0, 2.0).log_prob(z).sum(-1)
    torch.testing.assert_close(prior.log_prob(z), exact)
    draws = prior.sample(20000, generator=torch.Generator().manual_seed(0))
    assert abs(draws.std().item() - 2.0) < 0.05  # sd of the sample sd: 2 / sqrt(2 * 60000)
    assert prior.base is prior and prior.normalized


def test_a_flow_prior_samples_its_own_density():
    torch.manual_seed(0)
    prior = FlowPrior(2, transforms=2, hidden=16).double()
    z = prior.sample(4000, generator=torch.Generator().manual_seed(1))
    # its log_prob integrates to one: E_p[1 / p(z)] over a box is hard, so check the
    # reparameterised identity instead: samples' mean log_prob is minus the entropy estimate,
    # and a fresh zuko sample pool gives the same mean within sampling noise
    pool = prior.flow().sample((4000,))
    a, b = prior.log_prob(z).detach(), prior.log_prob(pool).detach()
    assert abs(a.mean() - b.mean()) < 4 * math.hypot(a.std(), b.std()) / math.sqrt(4000)
    assert prior.normalized and prior.base is prior


def test_a_latent_ebm_prior_is_unnormalised_and_samples_by_a_named_chain():
    torch.manual_seed(0)
    prior = LatentEBMPrior(2, hidden=8, base_scale=1.0, sample_steps=200,
                           sample_step_size=0.05).double()
    torch.nn.init.zeros_(prior.energy_net[-1].weight)  # f = const: the prior is then p_0
    z = torch.randn(5, 2, dtype=torch.float64)
    offset = prior.log_prob(z) - prior.base.log_prob(z)
    torch.testing.assert_close(offset, offset[:1].expand(5))  # f(z) alone, constant here
    draws = prior.sample(4000, generator=torch.Generator().manual_seed(2))
    # 200 Langevin steps from p_0 on p_0 itself: ULA's stationary variance 1 / (1 - eta/2)
    assert abs(draws.var().item() - 1 / (1 - 0.025)) < 0.08
    assert not prior.normalized and prior.sampler_description["kernel"] == "langevin"


def test_the_registry_names_a_bad_prior_or_option():
    with pytest.raises(ConfigError, match="unknown prior 'gamma'"):
        build_prior("gamma", 2)
    with pytest.raises(ConfigError, match="model.prior_options: prior 'normal' has no option"):
        build_prior("normal", 2, width=3)


def test_the_amortized_ald_prior_sampler_samples_its_target():
    # f = 0 makes the EBM prior its base N(0, I): the persistent unconditional-ALD chain
    # (preconditioned, MH, adapted step) must then give 50 samples per state from N(0, I)
    torch.manual_seed(0)
    prior = LatentEBMPrior(2, hidden=8, sampler="ald", ald={
        "n_chains": 50, "width": 64, "input_dim": 16, "steps": 1, "step_size": 0.5}).double()
    torch.nn.init.zeros_(prior.energy_net[-1].weight)
    torch.nn.init.zeros_(prior.energy_net[-1].bias)
    g = torch.Generator().manual_seed(1)
    draws = []
    for t in range(600):
        z, phis = prior.ald_sampler.advance(prior.energy, g)
        if t >= 200:
            draws.append(z)
    z = torch.stack(draws)  # [400, 50, 2]
    # successive states are correlated: batch means over 20 blocks give the standard error
    block_means = z.reshape(20, 20, 50, 2).mean((1, 2))
    stderr = block_means.std(0) / math.sqrt(20)
    assert (z.mean((0, 1)).abs() < 5 * stderr + 0.02).all(), (z.mean((0, 1)), stderr)
    assert ((z.var((0, 1)) - 1).abs() < 0.15).all(), z.var((0, 1))
    assert 0.3 < float(prior.ald_sampler.last_acceptance) <= 1
    # its feature network has its own loss and parameter group
    losses, metrics = prior.ml_loss(torch.randn(8, 2, dtype=torch.float64), g)
    assert set(losses) == {"prior", "prior_sampler"} == set(prior.loss_parameters())
    chain = prior.chain_reports()["prior_sampler/"]
    assert chain.acceptance is prior.ald_sampler.last_acceptance and chain.rule == "adapted"
    assert prior.sample(120, generator=g).shape == (120, 2)  # more than n_chains: rounds
    with pytest.raises(ConfigError, match="width"):
        LatentEBMPrior(2, sampler="ald", ald={"n_chains": 100, "width": 16})


def test_unconditional_ald_covers_the_eight_gaussians_with_their_moments():
    # Eight Gaussians on a ring of radius 2 with sd 0.5: neighbours 1.53 apart, so a Langevin
    # chain can cross between modes (at the toy's sd 0.2 no local sampler can in a test's budget,
    # and coverage would only reflect where chains start). Every chain starts at the origin.
    # Truth: each mode holds 1/8 of the mass, mean 0, covariance (r^2 / 2 + s^2) I = 2.25 I,
    # E|z|^2 = r^2 + 2 s^2 = 4.5, and the mean squared distance to the nearest mode (the
    # within-mode spread, which a too-cold or too-hot sampler gets wrong) from exact draws.
    # Tolerances: the chain switches modes slowly (one joint MH test over the 100 chains), so
    # batch-means errors are unreliable here; the bounds are about twice the largest deviation
    # measured over seeds 0-5 of this setting by bench/eight_gaussians.py (mass 0.032, mean
    # 0.19, covariance 3.6 %, E|z|^2 1.1 %, spread 2.3 %). A missed mode moves its mass by
    # 0.125; half the temperature halves the spread.
    radius, scale = 2.0, 0.5
    run = ald_prior_sampler_on_eight_gaussians(seed=0, sd=scale)
    assert ((run["mass"] - 1 / 8).abs() < 0.06).all(), run["mass"]
    assert (run["mean"].abs() < 0.35).all(), run["mean"]
    cov, true_var = run["cov"], radius**2 / 2 + scale**2
    assert ((cov.diagonal() - true_var).abs() < 0.08 * true_var).all() and \
        cov[0, 1].abs() < 0.15, cov
    assert abs(run["second_moment"] / (radius**2 + 2 * scale**2) - 1) < 0.03
    assert abs(run["spread"] / run["exact_spread"] - 1) < 0.05, run
    # each chain samples its own point rather than moving with the others: every chain visits
    # most modes, and the chains' states at one step are spread over all eight
    mode = run["mode"]
    visited = torch.tensor([len(mode[:, j].unique()) for j in range(mode.shape[1])])
    assert visited.double().mean() > 5 and visited.min() >= 2, visited
    assert (mode[-1].bincount(minlength=8) > 0).all(), mode[-1].bincount(minlength=8)
