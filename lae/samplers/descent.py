r"""Noise-free gradient descent on an energy: the posterior mode from a start, or the papers'
noise-free Langevin steps.

With ``adaptive=True`` each row's step grows by 1.2 after a step that lowered its energy, and a
step that did not is undone and the row's step halved (a backtracking rule: the energy never
rises, so the descent reaches a local minimum for any starting step). With ``adaptive=False``
it is :math:`z_{t+1} = z_t - \eta \nabla U(z_t)` at a fixed :math:`\eta`: a Langevin step with
its noise off, the reconstruction protocol of short-run and latent-EBM papers.

Example:
    >>> import torch
    >>> energy_fn = lambda z: 0.5 * ((z - 3.0) ** 2).sum(-1)  # the mode is z = 3
    >>> descend(energy_fn, torch.zeros(2, 2), steps=60, step_size=0.1)
    tensor([[3., 3.],
            [3., 3.]])
"""

from __future__ import annotations

import torch
from torch import Tensor

from lae.samplers.base import EnergyFn, energy_and_grad


def descend(energy_fn: EnergyFn, z: Tensor, steps: int, step_size: float,
            adaptive: bool = True) -> Tensor:
    """``steps`` noise-free gradient steps on ``energy_fn`` (z [B, K] -> U [B]) from z [B, K];
    returns the end [B, K], detached. ``adaptive``: backtracking per row (module doc); else a
    fixed step ``step_size``."""
    z = z.detach()
    energy, grad = energy_and_grad(energy_fn, z)
    if not adaptive:
        for _ in range(steps):
            z = z - step_size * grad
            energy, grad = energy_and_grad(energy_fn, z)
        return z
    eta = torch.full((z.shape[0], 1), step_size, dtype=z.dtype, device=z.device)
    for _ in range(steps):
        cand = z - eta * grad
        cand_energy, cand_grad = energy_and_grad(energy_fn, cand)
        better = (cand_energy <= energy) & torch.isfinite(cand_energy)
        keep = better[:, None]
        z = torch.where(keep, cand, z)
        grad = torch.where(keep, cand_grad, grad)
        energy = torch.where(better, cand_energy, energy)
        eta = torch.where(keep, eta * 1.2, eta / 2)
    return z
