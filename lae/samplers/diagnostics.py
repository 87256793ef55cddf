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

Example:
    >>> import torch
    >>> dz = torch.ones(10, 2)                       # every point moves alike
    >>> round(float(shared_motion_share(dz)), 3)
    1.0
    >>> g = torch.Generator().manual_seed(0)
    >>> trace = torch.randn(400, 4, 3, generator=g)  # [steps, chains, coords], iid
    >>> bool((split_rhat(trace) < 1.05).all())
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
    s = trace.shape[0] // 2
    if s < 2:
        raise ValueError(f"split_rhat needs at least 4 steps per chain, got {trace.shape[0]}")
    halves = torch.cat([trace[:s], trace[s:2 * s]], dim=1)  # [L, 2C, ...]
    within = halves.var(0).mean(0)
    between_over_l = halves.mean(0).var(0)
    var_plus = (s - 1) / s * within + between_over_l
    return (var_plus / within.clamp_min(torch.finfo(trace.dtype).tiny)).sqrt()
