r"""Posterior fidelity: does a model's inference sample the posterior p(z | x) of its own decoder?

For each test point x_i the model's inference gives S draws (``model.posterior_samples``: q for
VAEs, the refined samples for Hoffman, the continued chain for LD and the LAE). The reference is
long-run per-point MALA on U(x_i, z) = -log p(x_i, z), C chains per point (the metric starts
half of them from the model's own draws and half from the prior: over-dispersed starts, so that
R-hat can see a reference that stayed where the model put it), step sizes adapted per chain
during a warm-up and then frozen, with a dense mass matrix: each point's covariance, estimated in
the first half of the warm-up, whitens its latents (:func:`reference_samples`). Convergence is
checked per point by the rank-normalised split R-hat and the bulk ESS over the C chains
(Vehtari et al. 2021; :mod:`lae.samplers.diagnostics`); the points that fail are run again with
twice the budget, twice over, and those that still fail are left out of the summaries and
named in the result's settings, with their R-hat.

The summaries that decide: over every (point, coordinate) pair, the sd ratio sd(model's draws)
/ s and the mean error |mean of the model's draws - m| / s, with m and s the reference's mean and
sd of that coordinate of that point:

- ``posterior_sd_ratio``: the median sd ratio, with its 10th and 90th percentiles and the share
  of pairs inside [0.8, 1.25] in the settings (an average over points would let too-narrow and
  too-wide points cancel);
- ``posterior_mean_error_median_sd``: the median mean error, with its percentiles and the share
  of pairs within 0.5 posterior sd.

Per point (means over points with standard errors, as before):

- ``posterior_mean_error_sd``: mean over coordinates of |mean of the model's draws - m_i| / s_i;
- ``posterior_variance_ratio``: geometric mean over coordinates of var(model's draws) / s_i^2
  (1 is right; a too-cold sampler gives < 1). The per-coordinate ratios (geometric mean over
  points) are in the result's settings;
- ``posterior_mmd``: the unbiased squared MMD between the model's draws and the reference draws,
  both standardised by (m_i, s_i), Gaussian kernel of bandwidth sqrt(K) (K latent coordinates);
  about 0 for a sampler of the posterior (at most MMD_DRAWS evenly spaced draws of each side,
  which bounds its cost; unbiased for independent draws, slightly high for the correlated
  successive states of chain inference);
- ``posterior_shared_motion`` (chain inference only): the share of each transition's move common
  to the whole batch (1: the batch moves as one; about 1/n for independent per-point chains).

Each result's settings carry a ``verdict``: the spread is called right when the median sd ratio
lies in [0.8, 1.25] and the median mean error is below 0.5 posterior sd.

Example (the exact posterior of a linear-Gaussian model is matched; a too-cold one is flagged):
    >>> import torch
    >>> from lae.distributions.linear_gaussian import LinearGaussian
    >>> g = torch.Generator().manual_seed(0)
    >>> model = LinearGaussian(torch.randn(5, 2, generator=g, dtype=torch.float64),
    ...                        torch.zeros(5, dtype=torch.float64), 0.5)
    >>> x = model.sample_x(8, generator=g)
    >>> exact = model.posterior(x).sample((200,))                        # [200, 8, 2]
    >>> ref = reference_samples(model.log_joint, x, exact[:4], 400, 200, generator=g)
    >>> bool((ref.rhat < 1.05).all())
    True
    >>> stats = fidelity(exact, ref.samples)
    >>> bool(0.64 < stats["variance_ratio"].mean() < 1.56)
    True
    >>> too_cold = 0.5 * exact + 0.5 * exact.mean(0)
    >>> bool(fidelity(too_cold, ref.samples)["variance_ratio"].mean() < 0.5)
    True
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import NamedTuple

import torch
from torch import Tensor

from lae.distributions.mmd import mmd2_unbiased
from lae.samplers.adaptive import adaptive_mala, estimate_whitening, posterior_energy, whitened_mala
from lae.samplers.diagnostics import bulk_ess, rank_rhat, shared_motion_share

RHAT_OK = 1.01  # rank-normalised R-hat of a converged reference (Vehtari et al. 2021)
ESS_PER_CHAIN = 100  # bulk ESS per chain of a converged reference (Vehtari et al. 2021)
RHAT_KEEP = 1.1  # points whose worst coordinate is still above this are left out, and named
SD_RATIO_OK = (0.8, 1.25)  # spread called right (the band, in posterior sd)
MEAN_ERROR_OK = 0.5  # mean called right below this many posterior sd
MMD_DRAWS = 500


class Reference(NamedTuple):
    """What :func:`reference_samples` returns.

    Attributes:
        samples: reference draws [R, B, K] (R = C * (n_steps // thin) for every point).
        rhat: rank-normalised split R-hat [B, K] (:func:`lae.samplers.diagnostics.rank_rhat`).
        ess: bulk effective sample size [B, K] (:func:`lae.samplers.diagnostics.bulk_ess`).
        doublings: [B] how many times the point's budget was doubled before it converged (or
            ran out of rounds), int64.
    """

    samples: Tensor
    rhat: Tensor
    ess: Tensor
    doublings: Tensor


def converged(rhat: Tensor, ess: Tensor, chains: int) -> Tensor:
    """Per point [B] (from rhat, ess [B, K]): every coordinate has R-hat <= RHAT_OK and bulk
    ESS >= ESS_PER_CHAIN per chain."""
    return (rhat <= RHAT_OK).all(-1) & (ess >= ESS_PER_CHAIN * chains).all(-1)


def reference_samples(log_joint: Callable[[Tensor, Tensor], Tensor], x: Tensor, z0: Tensor,
                      n_steps: int, warmup: int, thin: int = 1, init_step_size: float = 1e-2,
                      generator: torch.Generator | None = None,
                      max_doublings: int = 2) -> Reference:
    """Long per-point MALA on log p(x, z) from C starts per point, with a dense mass matrix.

    The sampler is :func:`lae.samplers.adaptive.adaptive_mala`: the first half of the warm-up
    runs plain MALA and estimates each point's mean m and covariance Sigma = L L^T over its
    chains; then MALA runs on u = L^-1 (z - m), adapting its step in the second half of the
    warm-up and keeping ``n_steps`` steps. Points whose chains have not converged
    (:func:`converged`: rank-normalised R-hat and bulk ESS) are run again from where they
    stopped, with m and L re-estimated from their draws and twice the steps (thinned to the same
    number of draws), up to ``max_doublings`` times; the caller decides what to do with the
    points that still fail, whose R-hat and ESS are returned.

    Args:
        log_joint: ``(x [N, ...], z [N, K]) -> log p(x, z) [N]``.
        x: data [B, ...].
        z0: starting points [C, B, K] (C >= 2 chains per point, e.g. the model's own draws).
        n_steps: kept steps per chain (after warm-up), thinned by ``thin``.
        warmup: adaptive steps per chain (per-chain step size toward 0.574 acceptance), discarded.
        max_doublings: rounds of doubled budget for the points that have not converged.
    """
    c, b, k = z0.shape
    if c < 2:
        raise ValueError(f"reference_samples needs >= 2 chains per point for R-hat, got {c}")
    warmup = max(warmup, 4)
    first = warmup // 2
    energy_fn = lambda xx: posterior_energy(log_joint, xx, c)  # noqa: E731
    samples, rhat, ess = None, None, None
    doublings = torch.zeros(b, dtype=torch.int64)
    todo = torch.arange(b, device=z0.device)
    # after a round, the points of todo [b'] that have not converged: where their chains stopped
    # [C, b', K] and their draws so far [S', C, b', K]
    z_now, draws = z0, z0[None]
    for round_ in range(max_doublings + 1):
        scale = 2 ** round_
        if round_ == 0:  # the pilot window estimates each point's mass (samplers.adaptive)
            out = adaptive_mala(energy_fn(x), z0, n_steps, warmup=warmup, thin=thin,
                                init_step_size=init_step_size, generator=generator)
            trace, z_last = out.samples, out.last  # [S, C, b', K], [C, b', K]
        else:
            trace, z_last, _, _ = whitened_mala(
                energy_fn(x[todo]), z_now, estimate_whitening(draws), n_steps * scale,
                warmup - first, thin * scale, init_step_size, generator)
        r, e = rank_rhat(trace), bulk_ess(trace)
        if samples is None:
            samples, rhat, ess = trace, r, e
        else:
            samples[:, :, todo], rhat[todo], ess[todo] = trace, r, e
            doublings[todo.cpu()] = round_
        ok = converged(r, e, c)
        if bool(ok.all()) or round_ == max_doublings:
            break
        # the slow points again, from where they stopped, m and L from their draws so far
        z_now, draws, todo = z_last[:, ~ok], trace[:, :, ~ok], todo[~ok]
    return Reference(samples.reshape(-1, b, k), rhat, ess, doublings)


def _mmd2_unbiased(a: Tensor, b: Tensor, bandwidth: float) -> Tensor:
    """Unbiased squared MMD between a [S, B, K] and b [R, B, K] per point: [B]."""
    return mmd2_unbiased(a.transpose(0, 1), b.transpose(0, 1), bandwidth)


def _thin(draws: Tensor) -> Tensor:
    """At most MMD_DRAWS evenly spaced draws of draws [S, ...]."""
    if draws.shape[0] <= MMD_DRAWS:
        return draws
    return draws[torch.linspace(0, draws.shape[0] - 1, MMD_DRAWS).long()]


def fidelity(model_draws: Tensor, reference: Tensor, is_chain: bool = False) -> dict[str, Tensor]:
    """Per-point fidelity of model_draws [S, B, K] against reference draws [R, B, K].

    Returns per-point tensors [B]: ``mean_error_sd``, ``variance_ratio`` (geometric mean over
    coordinates), ``mmd``; per point and coordinate [B, K]: ``variance_ratio_per_dim``,
    ``sd_ratio_per_dim`` and ``mean_error_per_dim`` (in reference sd); and, for chains,
    ``shared_motion`` [S - 1] (one value per transition).
    """
    ref_mean, ref_sd = reference.mean(0), reference.std(0)
    tiny = torch.finfo(reference.dtype).tiny
    err_per_dim = (model_draws.mean(0) - ref_mean).abs() / ref_sd
    ratio = model_draws.var(0) / ref_sd.pow(2)
    out = {
        "mean_error_sd": err_per_dim.mean(-1),
        "mean_error_per_dim": err_per_dim,
        "sd_ratio_per_dim": ratio.sqrt(),
        "variance_ratio": ratio.clamp_min(tiny).log().mean(-1).exp(),
        "variance_ratio_per_dim": ratio,
        "mmd": _mmd2_unbiased((_thin(model_draws) - ref_mean) / ref_sd,
                              (_thin(reference) - ref_mean) / ref_sd,
                              bandwidth=math.sqrt(model_draws.shape[-1])),
    }
    if is_chain:
        out["shared_motion"] = shared_motion_share(model_draws.diff(dim=0))
    return out


def distribution(values: Tensor, inside: tuple[float, float] | None = None,
                 below: float | None = None) -> dict[str, float]:
    """Median, 10th and 90th percentiles of values (any shape, all pooled) and the share of them
    inside [lo, hi] (key ``share_inside_<lo>_<hi>``) or below ``below`` (``share_below_<b>``)."""
    v = values.detach().flatten().double().cpu()
    q = v.quantile(torch.tensor([0.1, 0.5, 0.9], dtype=torch.float64))
    out = {"median": float(q[1]), "p10": float(q[0]), "p90": float(q[2])}
    if inside is not None:
        out[f"share_inside_{inside[0]:g}_{inside[1]:g}"] = float(
            ((v >= inside[0]) & (v <= inside[1])).double().mean())
    if below is not None:
        out[f"share_below_{below:g}"] = float((v < below).double().mean())
    return out


def verdict(mean_error_sd: float, sd_ratio: float) -> str:
    """'ok', or what is wrong, by the thresholds SD_RATIO_OK and MEAN_ERROR_OK (given the
    median mean error in posterior sd and the median sd ratio)."""
    problems = []
    if sd_ratio < SD_RATIO_OK[0]:
        problems.append(f"too narrow (sd ratio {sd_ratio:.2f} < {SD_RATIO_OK[0]})")
    elif sd_ratio > SD_RATIO_OK[1]:
        problems.append(f"too wide (sd ratio {sd_ratio:.2f} > {SD_RATIO_OK[1]})")
    if mean_error_sd > MEAN_ERROR_OK:
        problems.append(f"biased (mean {mean_error_sd:.2f} posterior sd off > {MEAN_ERROR_OK})")
    return "; ".join(problems) or "ok"


def warn_if_unconverged(rhat: Tensor, ess: Tensor, chains: int) -> None:
    """Warn when some point's reference has not converged (:func:`converged`) even after its
    budget was doubled."""
    bad = ~converged(rhat, ess, chains)
    if bool(bad.any()):
        warnings.warn(f"posterior fidelity: the reference MCMC has not converged for "
                      f"{int(bad.sum())} of {bad.numel()} points (max rank R-hat "
                      f"{float(rhat.max()):.3f}, min bulk ESS {float(ess.min()):.0f}; asked: "
                      f"R-hat <= {RHAT_OK}, ESS >= {ESS_PER_CHAIN} per chain) after "
                      "doubling their budget twice; raise --posterior-ref-steps or "
                      "--posterior-ref-warmup", stacklevel=3)
