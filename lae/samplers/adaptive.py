r"""Per-point MALA with a step size and a dense mass matrix adapted per point during warm-up.

Posteriors of trained decoders are badly scaled and correlated (sd ~0.01 in the coordinates a
decoder uses, ~1 in the ones it ignores, correlations above 0.9), which no per-chain step size can
mix. :func:`adaptive_mala` therefore warms up in two windows, as Stan's windowed adaptation does:

1. plain MALA from the starts, its step size adapted per chain toward 0.574 acceptance; the second
   half of these draws, pooled over the C chains of a point, give the point's mean m and
   covariance Sigma = L L^T (a ridge of 1e-6 of the largest variance keeps L invertible; a point
   whose covariance is not positive definite falls back to its sds);
2. MALA on u = L^{-1} (z - m), an affine change of variables with a constant Jacobian (the target
   is unchanged), its step size adapted afresh from ``init_step_size``;

then ``n_steps`` kept steps at the frozen step size, so the kept draws come from one fixed,
valid kernel. Every step costs one evaluation of U and dU/dz per chain (one decoder pass forward
and back for a latent variable model): the cost of ``warmup + n_steps`` steps per chain.

This is the sampler of the posterior-fidelity reference (lae.eval.posterior, C >= 2 chains per
point from over-dispersed starts, with R-hat) and of the evaluation-time inference of the LAE
(one chain per point from its amortized start Phi g(x)).

References: Roberts and Rosenthal, "Optimal scaling of discrete approximations to Langevin
diffusions", JRSS B 1998 (the 0.574 target); the Stan Reference Manual, "HMC algorithm
parameters: automatic parameter tuning" (windowed adaptation of step size and mass).

Example (a correlated 2-D Gaussian per point, two points, one chain each):
    >>> import torch
    >>> cov = torch.tensor([[1.0, 0.95], [0.95, 1.0]]) * 1e-2
    >>> prec = torch.linalg.inv(cov)
    >>> energy_fn = lambda z: 0.5 * torch.einsum("ni,ij,nj->n", z, prec, z)
    >>> g = torch.Generator().manual_seed(0)
    >>> out = adaptive_mala(energy_fn, torch.ones(1, 2, 2), 2000, warmup=400, generator=g)
    >>> out.samples.shape                                      # [n_steps // thin, C, B, K]
    torch.Size([2000, 1, 2, 2])
    >>> bool((out.samples.flatten(0, 2).T.cov() / cov - 1).abs().max() < 0.3)
    True
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor

from lae.samplers.base import EnergyFn, tile_batch
from lae.samplers.chain import StepSizeAdapter, run_chain
from lae.samplers.kernels import MALA, MALA_TARGET


class Whitening(NamedTuple):
    """A per-point affine map z = m + L u.

    Attributes:
        mean: m, [B, K].
        chol: L, [B, K, K] (lower triangular; diagonal where the covariance was not positive
            definite).
    """

    mean: Tensor
    chol: Tensor


class AdaptiveMALAResult(NamedTuple):
    """What :func:`adaptive_mala` returns.

    Attributes:
        samples: kept draws in z, [n_steps // thin, C, B, K].
        last: the chains' last states in z, [C, B, K].
        whitening: the mass (mean and Cholesky factor per point) the kept steps used.
        step_size: the frozen step size per chain in u, [C * B].
        acceptance: the mean acceptance of the kept steps per chain, [C * B].
        evaluations: U-and-gradient evaluations per chain (warm-up and kept steps).
    """

    samples: Tensor
    last: Tensor
    whitening: Whitening
    step_size: Tensor
    acceptance: Tensor
    evaluations: int


def estimate_whitening(draws: Tensor) -> Whitening:
    """The mean and Cholesky factor of the covariance per point of draws [S, C, B, K], pooled
    over S draws and C chains (a ridge of 1e-6 of the largest variance; a point whose covariance
    is not numerically positive definite falls back to its sds)."""
    pooled = draws.flatten(0, 1)  # [S * C, B, K]
    k = pooled.shape[-1]
    m = pooled.mean(0)  # [B, K]
    centred = pooled - m
    cov = torch.einsum("nbi,nbj->bij", centred, centred) / max(pooled.shape[0] - 1, 1)
    ridge = 1e-6 * cov.diagonal(dim1=-2, dim2=-1).amax(-1).clamp_min(1e-30)
    eye = torch.eye(k, dtype=cov.dtype, device=cov.device)
    chol, info = torch.linalg.cholesky_ex(cov + ridge[:, None, None] * eye)
    diagonal = torch.diag_embed((cov.diagonal(dim1=-2, dim2=-1) + ridge[:, None]).sqrt())
    return Whitening(m, torch.where((info > 0)[:, None, None], diagonal, chol))


def whitened_mala(energy_fn: EnergyFn, z: Tensor, whitening: Whitening, n_steps: int,
                  warmup: int, thin: int = 1, step_size: float | Tensor = 1.0,
                  generator: torch.Generator | None = None
                  ) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """MALA on u = L^{-1} (z - m) per point from z [C, B, K]: ``warmup`` steps adapting each
    chain's step toward 0.574 acceptance (from ``step_size``, a float or [C * B]), then
    ``n_steps`` kept steps, every ``thin``-th recorded. ``energy_fn`` takes z [C * B, K] in the
    layout of ``z.reshape(C * B, K)``. Returns (kept draws in z [n_steps // thin, C, B, K], last
    states [C, B, K], the frozen step sizes [C * B], the kept steps' mean acceptance [C * B])."""
    c, b, k = z.shape
    m_rep = whitening.mean.repeat(c, 1)  # per chain [C * B, ...]
    chol_rep = whitening.chol.repeat(c, 1, 1)

    def to_z(u: Tensor) -> Tensor:  # u [..., C * B, K] -> z, same shape
        return m_rep + torch.einsum("nij,...nj->...ni", chol_rep, u)

    energy_u = lambda u: energy_fn(to_z(u))  # noqa: E731
    u0 = torch.linalg.solve_triangular(chol_rep, (z.reshape(c * b, k) - m_rep)[..., None],
                                       upper=False)[..., 0]
    kernel = MALA(step_size)
    state, trace, info = run_chain(kernel, kernel.init(u0, energy_u), energy_u, n_steps,
                                   warmup=warmup, adapt=StepSizeAdapter(MALA_TARGET), thin=thin,
                                   generator=generator)
    draws = (to_z(trace) if trace is not None else z.new_zeros(0, c * b, k)).reshape(-1, c, b, k)
    acceptance = (info.acceptance.mean(0) if info.acceptance.shape[0]
                  else torch.full((c * b,), float("nan"), dtype=z.dtype, device=z.device))
    return draws, to_z(state.z).reshape(c, b, k), info.step_size.expand(c * b), acceptance


def adaptive_mala(energy_fn: EnergyFn, z0: Tensor, n_steps: int, *, warmup: int,
                  thin: int = 1, init_step_size: float = 1e-2,
                  generator: torch.Generator | None = None) -> AdaptiveMALAResult:
    """Per-point MALA with windowed adaptation (module docstring) from starts z0 [C, B, K].

    Args:
        energy_fn: ``z [C * B, K] -> U [C * B]`` in the layout of ``z0.reshape(C * B, K)``
            (chain c of point b is row c * B + b: tile the data with
            :func:`lae.samplers.base.tile_batch`).
        z0: starting points, C chains for each of B points.
        n_steps: kept steps per chain after warm-up (``n_steps // thin`` draws are recorded).
        warmup: adaptive steps per chain, discarded: the first half plain MALA (its first half
            adapts the step size, its second half, at the step frozen, gives the mass), the
            second half whitened MALA (step size again, from ``init_step_size``). At least 4.
        thin: record every ``thin``-th kept step.
        init_step_size: the initial step size of both windows (in z, then in u).
        generator: the source of every random draw.
    """
    if warmup < 4:
        raise ValueError(f"adaptive_mala needs warmup >= 4 (two windows of two steps), got "
                         f"{warmup}")
    if n_steps < 0 or thin < 1:
        raise ValueError(f"n_steps must be >= 0 and thin >= 1, got {n_steps}, {thin}")
    c, b, k = z0.shape
    first = warmup // 2
    pilot_steps = max(first // 2, 2)
    kernel = MALA(init_step_size)
    state, pilot, _ = run_chain(kernel, kernel.init(z0.reshape(c * b, k).detach(), energy_fn),
                                energy_fn, pilot_steps, warmup=first - first // 2,
                                adapt=StepSizeAdapter(MALA_TARGET), generator=generator)
    whitening = estimate_whitening(pilot.reshape(-1, c, b, k))
    samples, last, step, acceptance = whitened_mala(
        energy_fn, state.z.reshape(c, b, k), whitening, n_steps, warmup - first, thin,
        init_step_size, generator)
    evaluations = first - first // 2 + pilot_steps + warmup - first + n_steps
    return AdaptiveMALAResult(samples, last, whitening, step, acceptance, evaluations)


def posterior_energy(log_joint: Callable[[Tensor, Tensor], Tensor], x: Tensor, chains: int
                     ) -> EnergyFn:
    """U(x_b, z) = -log p(x_b, z) for ``chains`` chains per point of x [B, ...], as
    :func:`adaptive_mala` lays them out: z [chains * B, K] -> [chains * B]."""
    x_rep = tile_batch(x, chains)
    return lambda z: -log_joint(x_rep, z)
