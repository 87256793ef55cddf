r"""Chain diagnostics shared by training (ALD's per-step log) and evaluation (posterior fidelity).

- :func:`shared_motion_share`: how much of a batch's latent move is one shift common to the batch,

  .. math::

      \mathrm{share}(\Delta Z) = \frac{n \,\lVert \bar{\Delta z} \rVert^2}{\sum_i \lVert \Delta z_i
      \rVert^2}, \qquad \bar{\Delta z} = \frac1n \sum_i \Delta z_i,

  1 when every point moves by the same vector, about 1/n for independent per-point moves.
- :func:`gram_condition`: top over median squared singular value of the features G, the spread
  of step sizes that plain ALD applies along G's directions.
- :func:`split_rhat`: the split potential-scale-reduction factor of Gelman et al. (BDA3, 11.4)
  over several chains; values near 1 (below about 1.05) say the chains agree.
- :func:`rank_rhat`: the rank-normalised split R-hat of Vehtari et al. (2021), the larger of the
  split R-hat of the rank-normalised draws (location) and of the rank-normalised distances from
  the median (scale: chains with one mean but different spreads), robust to heavy tails.
- :func:`bulk_ess`: the bulk effective sample size of Vehtari et al. (2021), the multi-chain ESS
  (Geyer's initial monotone sequence over the autocorrelations) of the rank-normalised split
  chains.

Reference: Vehtari, Gelman, Simpson, Carpenter, Buerkner, "Rank-normalization, folding, and
localization: an improved R-hat for assessing convergence of MCMC", Bayesian Analysis 2021.

Example:
    >>> import torch
    >>> dz = torch.ones(10, 2)                       # every point moves alike
    >>> round(float(shared_motion_share(dz)), 3)
    1.0
    >>> g = torch.Generator().manual_seed(0)
    >>> trace = torch.randn(400, 4, 3, generator=g)  # [steps, chains, coords], iid
    >>> bool((split_rhat(trace) < 1.05).all()), bool((rank_rhat(trace) < 1.05).all())
    (True, True)
    >>> ess = bulk_ess(trace)                         # iid draws: about all 1600 of them
    >>> bool(((ess > 1200) & (ess < 2000)).all())
    True
"""

from __future__ import annotations

import torch
from torch import Tensor


def shared_motion_share(dz: Tensor) -> Tensor:
    """Share of the move dz [..., n, K] that is common to the n points: [...] in [0, 1]."""
    n = dz.shape[-2]
    total = dz.pow(2).sum((-2, -1))
    shared = n * dz.mean(-2).pow(2).sum(-1)
    return shared / total.clamp_min(torch.finfo(dz.dtype).tiny)


def gram_condition(singular_values: Tensor) -> Tensor:
    """Top over median squared singular value of G (singular values [r], any order): 0-d,
    float64, finite (capped at the largest float64 when the median is 0: a diagnostic must not
    stop training; the rank warning says what is wrong then)."""
    s2 = singular_values.detach().double().pow(2)
    ratio = s2.max() / s2.median().clamp_min(torch.finfo(s2.dtype).tiny)
    return ratio.clamp_max(torch.finfo(s2.dtype).max)


def split_rhat(trace: Tensor) -> Tensor:
    """Split R-hat of trace [S, C, ...] (S steps of C chains) per trailing coordinate: [...].

    Each chain is cut into two halves, giving 2C sequences of length S // 2; R-hat is
    sqrt(((L - 1)/L W + B/L) / W) with W the mean within-sequence variance and B/L the variance
    of the sequence means.
    """
    halves = _split(trace)  # [L, 2C, ...]
    s = halves.shape[0]
    within = halves.var(0).mean(0)
    between_over_l = halves.mean(0).var(0)
    var_plus = (s - 1) / s * within + between_over_l
    return (var_plus / within.clamp_min(torch.finfo(trace.dtype).tiny)).sqrt()


def _split(trace: Tensor) -> Tensor:
    """Each of the C chains of trace [S, C, ...] cut in two: [S // 2, 2C, ...]."""
    s = trace.shape[0] // 2
    if s < 2:
        raise ValueError(f"split diagnostics need at least 4 steps per chain, got "
                         f"{trace.shape[0]}")
    return torch.cat([trace[:s], trace[s:2 * s]], dim=1)


def rank_normalize(trace: Tensor) -> Tensor:
    """The draws of trace [S, C, ...] replaced by normal scores of their ranks among all S * C
    draws of the same coordinate, Phi^-1((r - 3/8) / (S C + 1/4)) (Blom's offsets, as Vehtari
    et al.): [S, C, ...]. Ties get distinct ranks (continuous draws rarely tie)."""
    s, c = trace.shape[:2]
    flat = trace.reshape(s * c, *trace.shape[2:])
    ranks = flat.argsort(0).argsort(0).to(torch.float64) + 1.0
    scores = torch.special.ndtri((ranks - 0.375) / (s * c + 0.25))
    return scores.reshape(trace.shape).to(trace.dtype if trace.is_floating_point()
                                          else torch.float64)


def rank_rhat(trace: Tensor) -> Tensor:
    """Rank-normalised split R-hat of trace [S, C, ...] per trailing coordinate: [...], the larger
    of the location and the folded (scale) statistic. Vehtari et al. ask for < 1.01."""
    folded = (trace - trace.flatten(0, 1).median(0).values).abs()
    return torch.maximum(split_rhat(rank_normalize(trace)), split_rhat(rank_normalize(folded)))


def ess(trace: Tensor) -> Tensor:
    """Multi-chain effective sample size of trace [S, C, ...] per trailing coordinate: [...].

    With within-chain autocovariances a_c(t) (FFT), W the mean within-chain variance and var+ =
    (S - 1)/S W + var(chain means), rho_t = 1 - (W - mean_c a_c(t)) / var+; the sums of pairs
    P_k = rho_2k + rho_2k+1 are kept while positive and made non-increasing (Geyer's initial
    monotone sequence), tau = -1 + 2 sum_k P_k and ESS = S C / tau.
    """
    s, c = trace.shape[:2]
    x = trace.to(torch.float64)
    centred = x - x.mean(0)
    spectrum = torch.fft.rfft(centred, n=2 * s, dim=0)
    acov = torch.fft.irfft(spectrum * spectrum.conj(), n=2 * s, dim=0)[:s] / s  # [S, C, ...]
    within = (acov[0] * s / (s - 1)).mean(0)
    var_plus = within * (s - 1) / s + (x.mean(0).var(0) if c > 1 else 0.0)
    tiny = torch.finfo(torch.float64).tiny
    rho = 1.0 - (within - acov.mean(1)) / var_plus.clamp_min(tiny)  # [S, ...]
    rho[0] = 1.0
    n_pairs = s // 2
    pairs = rho[0:2 * n_pairs:2] + rho[1:2 * n_pairs:2]  # [S // 2, ...]
    positive = (pairs > 0).to(torch.int64).cumprod(0).bool()  # up to the first P_k <= 0
    pairs = torch.where(positive, pairs, torch.zeros_like(pairs))
    pairs = torch.cummin(pairs, 0).values  # monotone
    tau = (-1.0 + 2.0 * pairs.sum(0)).clamp_min(1.0 / torch.log10(torch.tensor(float(s * c))))
    return (s * c / tau).to(trace.dtype if trace.is_floating_point() else torch.float64)


def bulk_ess(trace: Tensor) -> Tensor:
    """Bulk ESS of trace [S, C, ...]: :func:`ess` of the rank-normalised split chains: [...].
    Vehtari et al. ask for at least 100 per chain."""
    return ess(_split(rank_normalize(trace)))
