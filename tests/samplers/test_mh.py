"""MH correctness, non-Gaussian targets, adaptation, rank check, unconditional ALD."""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from posterior_check import posterior_check
from scipy import integrate

from lae.samplers import (
    ALD,
    HMC,
    MALA,
    StepSizeAdapter,
    check_rank,
    energy_and_grad,
    mala_log_acceptance,
    run_chain,
)


def tilted_quartic(z: torch.Tensor) -> torch.Tensor:
    """U(z) = z^4/4 - z on [B, 1]: non-Gaussian, asymmetric (non-zero mean)."""
    return (z.pow(4) / 4 - z).sum(-1)


def log_q_exact(a: float, b: float, grad_b: float, eta: float) -> float:
    """Full Gaussian density of the Langevin proposal N(b - eta U'(b), 2 eta), written out here."""
    return -((a - b + eta * grad_b) ** 2) / (4 * eta) - 0.5 * math.log(4 * math.pi * eta)


def _pair(z: float, z_new: float):
    x = torch.tensor([[z], [z_new]], dtype=torch.float64)
    energy, grad = energy_and_grad(tilted_quartic, x)
    return energy, grad[:, 0]


@pytest.mark.parametrize("eta", [0.05, 0.3])
def test_mala_detailed_balance(eta):
    """pi(z) q(z'|z) alpha(z->z') == pi(z') q(z|z') alpha(z'->z) with the kernel's log alpha."""
    (u, u_new), (g, g_new) = _pair(0.3, 1.1)
    x, y = torch.tensor([[0.3]], dtype=torch.float64), torch.tensor([[1.1]], dtype=torch.float64)
    forward = float(mala_log_acceptance(x, u[None], g.reshape(1, 1), y, u_new[None],
                                        g_new.reshape(1, 1), eta))
    backward = float(mala_log_acceptance(y, u_new[None], g_new.reshape(1, 1), x, u[None],
                                         g.reshape(1, 1), eta))
    lhs = -float(u) + log_q_exact(1.1, 0.3, float(g), eta) + min(0.0, forward)
    rhs = -float(u_new) + log_q_exact(0.3, 1.1, float(g_new), eta) + min(0.0, backward)
    assert lhs == pytest.approx(rhs, abs=1e-12)


def test_detailed_balance_check_catches_reverse_drift_at_current_state():
    """A wrong log alpha whose reverse proposal takes the drift at z (not at z') breaks the
    identity on a non-quadratic energy: the check above discriminates."""
    eta = 0.3
    (u, u_new), (g, g_new) = _pair(0.3, 1.1)

    def wrong_log_alpha(a, ua, ga, b, ub):  # reverse drift evaluated at the CURRENT state a
        return (ua - ub + -((a - b + eta * ga) ** 2) / (4 * eta)
                - -((b - a + eta * ga) ** 2) / (4 * eta))

    forward = wrong_log_alpha(0.3, float(u), float(g), 1.1, float(u_new))
    backward = wrong_log_alpha(1.1, float(u_new), float(g_new), 0.3, float(u))
    lhs = -float(u) + log_q_exact(1.1, 0.3, float(g), eta) + min(0.0, forward)
    rhs = -float(u_new) + log_q_exact(0.3, 1.1, float(g_new), eta) + min(0.0, backward)
    assert abs(lhs - rhs) > 1e-2


def _quad_moments():
    norm = integrate.quad(lambda z: math.exp(-(z**4 / 4 - z)), -10, 10)[0]
    m1 = integrate.quad(lambda z: z * math.exp(-(z**4 / 4 - z)), -10, 10)[0] / norm
    m2 = integrate.quad(lambda z: z * z * math.exp(-(z**4 / 4 - z)), -10, 10)[0] / norm
    return m1, m2 - m1**2


# fixed step sizes: MALA is not geometrically ergodic on light (quartic) tails, and a step
# adapted to the mean acceptance (0.72 here) leaves ~2 % of the chains stuck far out
@pytest.mark.parametrize("kernel", [MALA(0.2), HMC(0.3, 4)], ids=["MALA", "HMC"])
def test_non_gaussian_1d_moments(kernel):
    """Mean and variance of U = z^4/4 - z against numerical integration.

    Tolerance: the B chains are independent, so the per-chain time averages are i.i.d. and the
    standard error of their mean is std(chain averages) / sqrt(B) (no autocorrelation estimate
    needed); we accept 5 standard errors. Same for the variance, via per-chain averages of
    (z - true mean)^2.
    """
    mean, var = _quad_moments()
    n_chains = 1000
    g = torch.Generator().manual_seed(0)
    z0 = torch.randn(n_chains, 1, generator=g, dtype=torch.float64)
    _, trace, info = run_chain(kernel, kernel.init(z0, tilted_quartic), tilted_quartic, 300,
                               warmup=200, generator=g)
    z = trace[..., 0]  # [S, B]
    chain_means, chain_sq = z.mean(0), (z - mean).pow(2).mean(0)
    se_mean, se_var = chain_means.std() / math.sqrt(n_chains), chain_sq.std() / math.sqrt(n_chains)
    print(f"\n[{type(kernel).__name__} 1-D] mean {float(chain_means.mean()):.4f} vs {mean:.4f} "
          f"(5 SE {5 * float(se_mean):.4f}); var {float(chain_sq.mean()):.4f} vs {var:.4f} "
          f"(5 SE {5 * float(se_var):.4f}); acceptance {float(info.acceptance.mean()):.3f}")
    assert abs(float(chain_means.mean()) - mean) < 5 * float(se_mean)
    assert abs(float(chain_sq.mean()) - var) < 5 * float(se_var)


def test_per_chain_adaptation_reaches_target():
    """Chains with scales 0.1..3 need step sizes ~ scale^2: per-chain Robbins–Monro finds them."""
    scales = torch.logspace(-1, math.log10(3), 8, dtype=torch.float64)
    energy_fn = lambda z: 0.5 * (z / scales[:, None]).pow(2).sum(-1)  # noqa: E731
    g = torch.Generator().manual_seed(0)
    kernel = MALA(0.1)
    state = kernel.init(torch.zeros(8, 2, dtype=torch.float64), energy_fn)
    _, _, info = run_chain(kernel, state, energy_fn, 400, warmup=600,
                           adapt=StepSizeAdapter(0.574), keep_trace=False, generator=g)
    assert info.step_size.shape == (8,)
    assert bool((info.step_size[1:] > info.step_size[:-1]).all())  # grows with the scale
    assert (info.acceptance.mean(0) - 0.574).abs().max() < 0.1


def test_check_rank_warns_when_features_too_narrow():
    with pytest.warns(UserWarning, match="rank"):
        assert check_rank(torch.randn(5, 3)) is False
    with pytest.warns(UserWarning, match="rank <= 3 < batch size 5"):  # decided by the shapes
        ALD(0.1).init(torch.zeros(2, 3), lambda z: z.pow(2).sum(-1), torch.randn(5, 3))
    with pytest.warns(UserWarning, match="rank 2 < batch size 4"):  # numerically deficient
        assert check_rank(torch.randn(4, 2) @ torch.randn(2, 6)) is False
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check_rank(torch.randn(3, 5)) is True


def test_unconditional_ald_samples_a_2d_gaussian_energy():
    """Unconditional form: features k(u_j) of fixed inputs u_j ~ N(0, I), energy E(z) of an
    energy-based density; the n rows of G Phi^T are n chains of p(z) ∝ exp(-E(z))."""
    dtype = torch.float64
    g = torch.Generator().manual_seed(0)
    m = torch.tensor([1.0, -0.5], dtype=dtype)
    prec = torch.tensor([[2.0, 0.8], [0.8, 1.0]], dtype=dtype)
    energy_fn = lambda z: 0.5 * (((z - m) @ prec) * (z - m)).sum(-1)  # noqa: E731
    n, d = 20, 64
    u = torch.randn(n, 2, generator=g, dtype=dtype)
    feats = torch.tanh(u @ torch.randn(2, d, generator=g, dtype=dtype)
                       + torch.randn(d, generator=g, dtype=dtype))
    ald = ALD(0.3, preconditioned=True)
    state = ald.init(torch.zeros(2, d, dtype=dtype), energy_fn, feats)
    _, trace, info = run_chain(ald, state, energy_fn, 2000, warmup=200, generator=g)
    check = posterior_check(trace, m.expand(n, 2), torch.linalg.inv(prec))
    print(f"\n[unconditional pALD] acceptance {float(info.acceptance.mean()):.3f} {check}")
    assert check.mean_ok() and check.var_ok(), check
