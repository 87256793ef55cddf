"""Importance-sampling estimates of log p(x) from a proposal q(z|x): the IWAE bound.

    log p(x) >= E[ log (1/k) sum_{j=1..k} p(x, z_j) / q(z_j | x) ],   z_j ~ q(z | x)

(Burda et al. 2016). The bound tightens as k grows and is exact when q is the posterior.
Samples are drawn in chunks so memory stays bounded for large k.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor
from torch.distributions import Distribution

from lae.distributions import rsample_and_log_prob
from lae.samplers.base import tile_batch


def log_importance_weights(log_joint: Callable[[Tensor, Tensor], Tensor], proposal: Distribution,
                           x: Tensor, m: int, generator: torch.Generator | None = None
                           ) -> Tensor:
    """log p(x, z_j) - log q(z_j | x) for m samples z_j ~ q(z|x) per example: [m, B]."""
    z, log_q = rsample_and_log_prob(proposal, (m,), generator)  # [m, B, K], [m, B]
    return log_joint(tile_batch(x, m), z.flatten(0, 1)).view(m, -1) - log_q


@torch.no_grad()
def iwae_log_px(log_joint: Callable[[Tensor, Tensor], Tensor], proposal: Distribution, x: Tensor,
                k: int, chunk: int = 100, generator: torch.Generator | None = None) -> Tensor:
    """IWAE-k estimate of log p(x) per example, in nats: [B].

    Args:
        log_joint: (x [N, *shape], z [N, K]) -> log p(x, z) [N].
        proposal: q(z|x) with batch shape [B] and event shape [K].
        x: data [B, *shape].
        k: number of importance samples per example.
        chunk: samples drawn at once per example (memory is O(chunk * B)).
        generator: the source of the proposal's noise.
    """
    running = torch.full((x.shape[0],), -math.inf, device=x.device)
    for start in range(0, k, chunk):
        log_w = log_importance_weights(log_joint, proposal, x, min(chunk, k - start), generator)
        running = torch.logaddexp(running, torch.logsumexp(log_w, 0))
    return running - math.log(k)
