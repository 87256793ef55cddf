"""Every sampler against the exact posterior of a linear-Gaussian model (D=10, K=2, sigma=0.5).

The model's posterior precision I + W^T W / sigma^2 has eigenvalues about 6 and 13 here
(posterior sds ~0.3), so step sizes below are in those units. Tolerances are Monte Carlo ones,
derived in posterior_check.py: every per-point mean within 5 sd / sqrt(ESS) and the pooled
variance ratio within 1 +- 5 sqrt(2 tau / (N S)).
"""

from __future__ import annotations

import math

import pytest
import torch
from posterior_check import Check, posterior_check

from lae.distributions import LinearGaussian
from lae.samplers import ALD, HMC, MALA, Langevin, StepSizeAdapter, energy_and_grad, run_chain

D, K, SIGMA = 10, 2, 0.5


def make_problem(n: int, seed: int = 0) -> tuple[LinearGaussian, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    model = LinearGaussian(0.5 * torch.randn(D, K, generator=g, dtype=torch.float64),
                           torch.randn(D, generator=g, dtype=torch.float64), SIGMA)
    return model, model.sample_x(n, generator=g)


def energy(model: LinearGaussian, x: torch.Tensor):
    return lambda z: -model.log_joint(x, z)


def report(name: str, check: Check, **settings) -> None:
    # printed with pytest -s; these are the numbers quoted in docs/samplers.md
    print(f"\n[{name}] {settings} {check}")


def tanh_features(x: torch.Tensor, width: int, seed: int = 1) -> torch.Tensor:
    """Random tanh features of x plus a constant column: G [n, width + 1]."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(x.shape[1], width, generator=g, dtype=x.dtype) / math.sqrt(x.shape[1])
    b = torch.randn(width, generator=g, dtype=x.dtype)
    return torch.cat([torch.tanh(x @ w + b), torch.ones(x.shape[0], 1, dtype=x.dtype)], 1)


def orthonormal_features(n: int, d: int, seed: int = 1) -> torch.Tensor:
    """Identity-like features: n orthonormal rows of width d (G G^T = I)."""
    g = torch.Generator().manual_seed(seed)
    q, _ = torch.linalg.qr(torch.randn(d, d, generator=g, dtype=torch.float64))
    return q[:n]


LATENT = [  # name, kernel, steps, warm-up, allowance on the variance band (discretisation bias)
    # ULA's stationary variance is 1 / (lambda (1 - eta lambda / 2)): with eta = 0.004 and
    # lambda <= 13 that is at most 2.7 % too wide, the stated allowance
    ("Langevin", Langevin(0.004), 4000, 500, 0.03),
    ("MALA", MALA(0.05), 2000, 200, 0.0),
    ("HMC", HMC(0.15, 5), 600, 100, 0.0),
]


@pytest.mark.parametrize("name,kernel,steps,warmup,allowance", LATENT, ids=[c[0] for c in LATENT])
def test_latent_kernels_match_posterior(name, kernel, steps, warmup, allowance):
    model, x = make_problem(100)
    post = model.posterior(x)
    g = torch.Generator().manual_seed(2)
    _, trace, info = run_chain(kernel, torch.zeros(100, K, dtype=torch.float64), energy(model, x),
                               steps, warmup=warmup, generator=g)
    check = posterior_check(trace, post.mean, model.posterior_cov)
    report(name, check, steps=steps, warmup=warmup, step_size=kernel.step_size,
           acceptance=round(float(info["acceptance"].mean()), 3))
    assert check.mean_ok(), check
    assert check.var_ok(allowance), check
