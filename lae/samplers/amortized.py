r"""Amortized Langevin dynamics: an ALD chain on the last layer :math:`\Phi` [K, d + 1] of an
amortizer whose samples are :math:`Z = G \Phi^\top` for features :math:`G` [n, d + 1], shared by
the Langevin autoencoder (conditional: :math:`G = [g(x), 1]`, one posterior per example) and the
latent EBM's amortized prior sampler (unconditional: fixed inputs, samples of the prior).

Several latent layers split :math:`\Phi`'s rows into one head per layer; each head is its own
chain with its own step size and MH test, and a transition updates the heads in turn, each on
the energy with the other layers held (Metropolis-within-Gibbs). After each transition every
head's step size is adapted (:class:`~lae.samplers.chain.StepSizeAdapter`). The feature network
learns on the time-averaged energy of the chain's states,
:math:`\frac{1}{T n} \sum_t V(\Phi_t)` with each :math:`\Phi_t` held (Taniguchi et al., NeurIPS
2022, Algorithm 1).

:class:`AmortizedALD` is pure: it takes and returns :math:`\Phi` and the log step sizes; the
module that owns them keeps them as buffers.

Example:
    >>> import torch
    >>> from lae.samplers import StepSizeAdapter
    >>> chain = AmortizedALD([slice(0, 2)], StepSizeAdapter(0.6, per_chain=True, gain=0.02,
    ...                                                     decay=0.0))
    >>> feats = torch.cat([torch.randn(8, 9), torch.ones(8, 1)], 1)  # G = [g, 1]
    >>> run = chain.advance(lambda z: 0.5 * z.pow(2).sum(-1), feats, torch.zeros(2, 10),
    ...                     torch.full((1,), -4.0), steps=3)
    >>> len(run.phis), run.acceptance.shape, run.log_step_size.shape
    (3, torch.Size([3, 1]), torch.Size([1]))
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import torch
from torch import Tensor

from lae.samplers.ald import ALD, ALDState
from lae.samplers.base import EnergyFn
from lae.samplers.chain import StepSizeAdapter


class AmortizedRun(NamedTuple):
    """``steps`` transitions of :meth:`AmortizedALD.advance`: Phi after each [K, d + 1], the
    last layer's state after each, the acceptance [T, L], the non-finite proposals rejected
    (0-d) and the adapted log step sizes [L]."""

    phis: list[Tensor]
    states: list[ALDState]
    acceptance: Tensor
    nonfinite: Tensor
    log_step_size: Tensor


def layer_energy(energy_fn: EnergyFn, z: Tensor, rows: slice) -> EnergyFn:
    """U as a function of one layer's latents z_l [B, k_l], the other layers held at their values
    in z [B, K] (``energy_fn`` itself when the layer is all of z)."""
    if rows.stop - rows.start == z.shape[1]:
        return energy_fn
    before, after = z[:, :rows.start].detach(), z[:, rows.stop:].detach()
    return lambda z_l: energy_fn(torch.cat([before, z_l, after], dim=1))


class AmortizedALD:
    """The ALD chain on Phi's heads ``layer_rows`` (slices of Phi's rows, one per latent layer),
    its step sizes adapted by ``adapter`` after each transition (``adapt``), its kernel an
    :class:`~lae.samplers.ald.ALD` with ``kernel_options`` (mh, preconditioning, ...)."""

    def __init__(self, layer_rows: list[slice], adapter: StepSizeAdapter, adapt: bool = True,
                 **kernel_options: Any) -> None:
        self.layer_rows, self.adapter, self.adapt = layer_rows, adapter, adapt
        self.kernel_options = kernel_options

    def kernel(self, step_size: Tensor, reduce: Callable[[Tensor], Tensor] | None = None,
               **overrides: Any) -> ALD:
        """One head's kernel at ``step_size`` (0-d); ``reduce`` sums over the processes that
        share the chain."""
        return ALD(step_size=step_size, reduce=reduce, **(self.kernel_options | overrides))

    def transition(self, energy_fn: EnergyFn, feats: Tensor, phi: Tensor, log_step_size: Tensor,
                   state: ALDState | None, generator: torch.Generator | None = None,
                   params: tuple[Tensor, ...] = (),
                   reduce: Callable[[Tensor], Tensor] | None = None
                   ) -> tuple[Tensor, Tensor, Tensor, ALDState]:
        """One transition of each head in turn on U = ``energy_fn`` (z [n, K] -> [n]) with
        detached features ``feats`` [n, d + 1]. ``state``: the state the previous transition
        returned (None at the first): with one layer its cached energy and gradient serve this
        transition; with several, a head's cached values go stale when another head moves, so
        each head's state is rebuilt. ``params`` (one layer only): tensors whose energy
        gradients the states also carry. Returns (the new Phi, acceptance [L], non-finite
        proposals rejected (0-d), the last head's state)."""
        if len(self.layer_rows) == 1:
            kernel = self.kernel(log_step_size[0].exp(), reduce)
            if state is None:
                state = kernel.init(phi, energy_fn, feats, params)
            state, info = kernel.step(state, energy_fn, generator)
            return state.phi, info.acceptance[:1], info.nonfinite[0], state
        phi = phi.clone()
        acceptance, nonfinite = [], []
        for layer, rows in enumerate(self.layer_rows):
            head_energy = layer_energy(energy_fn, feats @ phi.T, rows)
            kernel = self.kernel(log_step_size[layer].exp(), reduce)
            state, info = kernel.step(kernel.init(phi[rows], head_energy, feats), head_energy,
                                      generator)
            phi[rows] = state.phi
            acceptance.append(info.acceptance[0])
            nonfinite.append(info.nonfinite[0])
        return phi, torch.stack(acceptance), torch.stack(nonfinite).sum(), state

    def advance(self, energy_fn: EnergyFn, feats: Tensor, phi: Tensor, log_step_size: Tensor,
                steps: int, generator: torch.Generator | None = None,
                params: tuple[Tensor, ...] = (),
                reduce: Callable[[Tensor], Tensor] | None = None) -> AmortizedRun:
        """``steps`` transitions from Phi [K, d + 1] at log step sizes [L], each followed by the
        step sizes' adaptation (when ``adapt``)."""
        state: ALDState | None = None
        phis, states, acceptance, nonfinite = [], [], [], []
        for _ in range(steps):
            phi, accepted, rejected, state = self.transition(
                energy_fn, feats, phi, log_step_size, state, generator, params, reduce)
            phis.append(phi)
            states.append(state)
            acceptance.append(accepted)
            nonfinite.append(rejected)
            if self.adapt:
                log_step_size = self.adapter.update(log_step_size, accepted, 0)
        return AmortizedRun(phis, states, torch.stack(acceptance), torch.stack(nonfinite).sum(),
                            log_step_size)


def time_averaged_energy(energy_fn: EnergyFn, feats: Tensor, phis: list[Tensor]) -> Tensor:
    """(1/(T n)) sum_t V(Phi_t): the mean energy of the states G Phi_t^T [T n, K], each Phi_t
    held, with a graph to the features ``feats`` [n, d + 1] (what the feature network
    descends). ``energy_fn`` takes the T n states in the order t-major."""
    z = torch.einsum("nd,tkd->tnk", feats, torch.stack(phis)).flatten(0, 1)
    return energy_fn(z).mean()
