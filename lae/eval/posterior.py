r"""Posterior fidelity: does a model's inference sample the posterior p(z | x) of its own decoder?

For each test point x_i the model's inference gives S draws (``model.posterior_samples``: q for
VAEs, the refined samples for Hoffman, the continued chain for LD and the LAE). The reference is
long-run per-point MALA on U(x_i, z) = -log p(x_i, z), C chains per point (the metric starts
half of them from the model's own draws and half from the prior: over-dispersed starts, so that
R-hat can see a reference that stayed where the model put it), step sizes adapted per chain
during a warm-up and then frozen, each coordinate rescaled by the posterior sd estimated in the
first half of the warm-up; convergence is checked with the split R-hat over the C chains
(:func:`lae.samplers.diagnostics.split_rhat`).

Per point, with the reference mean m_i and standard deviation s_i (per latent coordinate):

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

Each result's settings carry a ``verdict``: the spread is called right when sqrt of the variance
ratio lies in [0.8, 1.25] and the mean error is below 0.5 posterior sd.

Example (the exact posterior of a linear-Gaussian model is matched; a too-cold one is flagged):
    >>> import torch
    >>> from lae.distributions.linear_gaussian import LinearGaussian
    >>> g = torch.Generator().manual_seed(0)
    >>> model = LinearGaussian(torch.randn(5, 2, generator=g, dtype=torch.float64),
    ...                        torch.zeros(5, dtype=torch.float64), 0.5)
    >>> x = model.sample_x(8, generator=g)
    >>> exact = model.posterior(x).sample((200,))                        # [200, 8, 2]
    >>> ref, rhat = reference_samples(model.log_joint, x, exact[:4], 400, 200, generator=g)
    >>> stats = fidelity(exact, ref)
    >>> bool(0.64 < stats["variance_ratio"].mean() < 1.56)
    True
    >>> bool(fidelity(0.5 * exact + 0.5 * exact.mean(0), ref)["variance_ratio"].mean() < 0.5)
    True
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable

import torch
from torch import Tensor

from lae.distributions.mmd import mmd2_unbiased
from lae.samplers import MALA, StepSizeAdapter, run_chain
from lae.samplers.base import tile_batch
from lae.samplers.diagnostics import shared_motion_share, split_rhat

RHAT_OK = 1.05  # reference chains count as converged below this split R-hat (else a warning)
RHAT_KEEP = 1.1  # points whose worst coordinate is above this are left out of the averages
SD_RATIO_OK = (0.8, 1.25)  # spread called right (the band, in posterior sd)
MEAN_ERROR_OK = 0.5  # mean called right below this many posterior sd
MALA_TARGET = 0.574  # optimal MALA acceptance (Roberts & Rosenthal 1998)
MMD_DRAWS = 500


def reference_samples(log_joint: Callable[[Tensor, Tensor], Tensor], x: Tensor, z0: Tensor,
                      n_steps: int, warmup: int, thin: int = 1, init_step_size: float = 1e-2,
                      generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """Long per-point MALA on log p(x, z) from C starts per point.

    Args:
        log_joint: ``(x [N, ...], z [N, K]) -> log p(x, z) [N]``.
        x: data [B, ...].
        z0: starting points [C, B, K] (C >= 2 chains per point, e.g. the model's own draws).
        n_steps: kept steps per chain (after warm-up), thinned by ``thin``.
        warmup: adaptive steps per chain (per-chain step size toward 0.574 acceptance), discarded.

    Returns:
        ``(samples [C * (n_steps // thin), B, K], split R-hat [B, K])``.
    """
    c, b, k = z0.shape
    if c < 2:
        raise ValueError(f"reference_samples needs >= 2 chains per point for R-hat, got {c}")
    x_rep = tile_batch(x, c)
    adapt = StepSizeAdapter(MALA_TARGET)
    # Posteriors of trained decoders are badly scaled (sd ~0.01 in used coordinates, ~1 in unused
    # ones), which one step size per chain cannot mix. Phase 1 (first half of the warm-up)
    # estimates each point's mean m and sd s over its chains; then MALA runs on u = (z - m) / s,
    # an affine change of variables with a constant Jacobian, so the target is unchanged.
    first = warmup // 2
    kernel, energy_fn = MALA(init_step_size), lambda z: -log_joint(x_rep, z)
    state, trace, _ = run_chain(kernel, kernel.init(z0.reshape(c * b, k).detach(), energy_fn),
                                energy_fn, max(first // 2, 2), warmup=first - first // 2,
                                adapt=adapt, generator=generator)
    pilot = trace.reshape(-1, c, b, k).flatten(0, 1)  # [S' * C, B, K]
    m = pilot.mean(0).repeat(c, 1)
    sd = pilot.std(0).clamp_min(1e-6 * pilot.std(0).max()).repeat(c, 1)  # [C * B, K]
    energy_u = lambda u: -log_joint(x_rep, m + sd * u)  # noqa: E731
    _, trace, _ = run_chain(kernel, kernel.init((state.z - m) / sd, energy_u), energy_u, n_steps,
                            warmup=warmup - first, adapt=adapt, thin=thin, generator=generator)
    trace = (m + sd * trace).reshape(-1, c, b, k)  # [S, C, B, K]
    return trace.reshape(-1, b, k), split_rhat(trace)


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
    coordinates), ``mmd``; ``variance_ratio_per_dim`` [B, K]; and, for chains,
    ``shared_motion`` [S - 1] (one value per transition).
    """
    ref_mean, ref_sd = reference.mean(0), reference.std(0)
    tiny = torch.finfo(reference.dtype).tiny
    err = ((model_draws.mean(0) - ref_mean).abs() / ref_sd).mean(-1)
    ratio = model_draws.var(0) / ref_sd.pow(2)
    out = {
        "mean_error_sd": err,
        "variance_ratio": ratio.clamp_min(tiny).log().mean(-1).exp(),
        "variance_ratio_per_dim": ratio,
        "mmd": _mmd2_unbiased((_thin(model_draws) - ref_mean) / ref_sd,
                              (_thin(reference) - ref_mean) / ref_sd,
                              bandwidth=math.sqrt(model_draws.shape[-1])),
    }
    if is_chain:
        out["shared_motion"] = shared_motion_share(model_draws.diff(dim=0))
    return out


def verdict(mean_error_sd: float, variance_ratio: float) -> str:
    """'ok', or what is wrong, by the thresholds SD_RATIO_OK and MEAN_ERROR_OK."""
    problems = []
    sd_ratio = math.sqrt(variance_ratio)
    if sd_ratio < SD_RATIO_OK[0]:
        problems.append(f"too narrow (sd ratio {sd_ratio:.2f} < {SD_RATIO_OK[0]})")
    elif sd_ratio > SD_RATIO_OK[1]:
        problems.append(f"too wide (sd ratio {sd_ratio:.2f} > {SD_RATIO_OK[1]})")
    if mean_error_sd > MEAN_ERROR_OK:
        problems.append(f"biased (mean {mean_error_sd:.2f} posterior sd off > {MEAN_ERROR_OK})")
    return "; ".join(problems) or "ok"


def warn_if_unconverged(rhat: Tensor) -> None:
    """Warn when the reference chains disagree (split R-hat above RHAT_OK somewhere)."""
    worst = float(rhat.max())
    if worst > RHAT_OK:
        warnings.warn(f"posterior fidelity: the reference MCMC has not converged (max split R-hat "
                      f"{worst:.3f} > {RHAT_OK}); raise --posterior-ref-steps or "
                      "--posterior-ref-warmup", stacklevel=3)
