"""Posterior fidelity against the exact posterior of a linear-Gaussian model (D=10, K=2,
sigma=0.5; posterior sds ~0.3, identical for every point).

Tolerances. Exact draws, S = 400 per point: each coordinate's sample variance has relative sd
sqrt(2 / 399) = 0.07, the reference's (4 chains x 600 MALA steps, ESS ~ 300 per point) about
0.08; the per-point geometric mean over 2 coordinates then has sd ~ 0.075 and the mean over 30
points ~ 0.014, so |ratio - 1| < 0.1 is > 5 standard errors. The mean error per coordinate is
|N(0, 1/400 + 1/300)| in sd units, expected 0.061: < 0.15 averaged over points is safe. A sampler
at half the posterior sd has variance ratio 0.25 and must be called too narrow; one shifted by
one sd must be called biased.
"""

from __future__ import annotations

import math

import pytest
import torch

from lae.eval.posterior import fidelity, reference_samples, verdict
from lae.samplers.diagnostics import gram_condition, shared_motion_share, split_rhat

D, K, N, S = 10, 2, 30, 400


@pytest.fixture(scope="module")
def problem(linear_gaussian_data):
    g = torch.Generator().manual_seed(1)
    model, x = linear_gaussian_data(N, d=D, k=K, weight_scale=0.5)
    exact = model.posterior(x).sample((S,))  # [S, N, K]
    ref, rhat = reference_samples(model.log_joint, x, exact[:4], 1000, 300, generator=g)
    return model, x, exact, ref, rhat


def test_reference_chains_converge_and_match_the_exact_posterior(problem):
    model, x, _, ref, rhat = problem
    assert ref.shape == (4 * 1000, N, K) and rhat.shape == (N, K)
    assert float(rhat.max()) < 1.05
    post_sd = model.posterior_cov.diagonal().sqrt()
    err = ((ref.mean(0) - model.posterior(x).mean) / post_sd).abs()
    assert float(err.mean()) < 0.1  # ESS ~ 300: expected |error| ~ 0.046 sd
    assert (ref.var(0).mean(0) / post_sd.pow(2) - 1).abs().max() < 0.1


def test_exact_draws_pass(problem):
    _, _, exact, ref, _ = problem
    stats = fidelity(exact, ref)
    ratio, err = float(stats["variance_ratio"].mean()), float(stats["mean_error_sd"].mean())
    assert abs(ratio - 1) < 0.1 and err < 0.15
    assert abs(float(stats["mmd"].mean())) < 0.02  # unbiased MMD^2: about 0 for equal laws
    assert verdict(err, ratio) == "ok"


def test_a_too_cold_sampler_is_flagged(problem):
    _, _, exact, ref, _ = problem
    cold = exact.mean(0) + 0.5 * (exact - exact.mean(0))  # half the posterior sd
    stats = fidelity(cold, ref)
    ratio = float(stats["variance_ratio"].mean())
    assert 0.2 < ratio < 0.3
    assert float(stats["mmd"].mean()) > 0.05
    assert verdict(float(stats["mean_error_sd"].mean()), ratio).startswith("too narrow")


def test_a_biased_sampler_is_flagged(problem):
    model, _, exact, ref, _ = problem
    shifted = exact + model.posterior_cov.diagonal().sqrt()  # one posterior sd off
    stats = fidelity(shifted, ref)
    err = float(stats["mean_error_sd"].mean())
    assert 0.85 < err < 1.15
    assert "biased" in verdict(err, float(stats["variance_ratio"].mean()))


def test_shared_motion_of_a_batch_that_moves_as_one_and_of_independent_moves():
    g = torch.Generator().manual_seed(0)
    common = torch.randn(50, 1, K, generator=g).expand(50, N, K)  # [steps, n, K]
    assert torch.allclose(shared_motion_share(common), torch.ones(50))
    independent = shared_motion_share(torch.randn(2000, N, K, generator=g))
    assert abs(float(independent.mean()) - 1 / N) < 0.005  # E[share] = 1/n exactly here
    chain = torch.cumsum(torch.randn(S, N, K, generator=g), 0)
    stats = fidelity(chain, torch.randn(S, N, K, generator=g), is_chain=True)
    assert stats["shared_motion"].shape == (S - 1,)


def test_split_rhat_flags_chains_that_disagree():
    g = torch.Generator().manual_seed(0)
    trace = torch.randn(500, 4, 3, generator=g)
    assert float(split_rhat(trace).max()) < 1.05
    trace[:, 0] += 3.0  # one chain stuck elsewhere
    assert float(split_rhat(trace).min()) > 1.5


def test_gram_condition_is_top_over_median_squared_singular_value():
    s = torch.tensor([10.0, 2.0, 1.0])
    assert math.isclose(float(gram_condition(s)), 100.0 / 4.0)
