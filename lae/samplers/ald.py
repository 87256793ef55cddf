r"""Amortized Langevin dynamics (ALD): Langevin/MALA on the weights of an encoder's last layer.

The chain state is Phi [d_z, d]; the latents of a batch are Z = G Phi^T, G = features [n, d]
(append a constant-1 column to G for a bias). The potential is the SUM of per-point energies,

.. math::

    V(\Phi) = \sum_{i=1}^n U(x_i, \Phi g_i), \qquad
    \nabla_\Phi V = (\partial V / \partial Z)^\top G \quad \text{(back-propagation from Z only)},

and one transition is (MH on by default, with V in place of U)

.. math::

    \Phi' = \Phi - \eta \nabla_\Phi V(\Phi) + \sqrt{2\eta}\, \Xi, \qquad \Xi \sim \mathcal N(0, I).

Temperature: the noise sqrt(2 eta) matches the *summed* potential. Code that thinks in batch-mean
energies V/n with step eta_mean must use eta = eta_mean / n here (noise sqrt(2 eta_mean / n));
a sum drift with mean noise samples a posterior n times too cold.

Validity (Theorem 1 of the paper): the induced law of (z_1..z_n) is the product of the posteriors
when rank(G) = n, which needs d >= n; :func:`check_rank` warns otherwise.

Preconditioned ALD (docs/methods.md 1b): with the thin SVD G = U S V^T,
A = V diag(1/(s^2 + lam)) V^T, L = V diag(1/sqrt(s^2 + lam)), lam = lam_rel * s_ref^2 with s_ref
the largest singular value (``damping_ref="max"``, lam_rel = 1e-6 by default: nearly exact) or the
median one (``damping_ref="median"``: a bounded metric, moves along directions the batch barely
constrains are capped at those of the median direction),

.. math::

    \Phi' = \Phi - \eta \nabla_\Phi V\, A + \sqrt{2\eta}\, \Xi L^\top, \qquad
    \Xi \sim \mathcal N(0, I_{d_z \times r}).

The move stays in Phi + row space of G. In the coordinates C = Phi V it is a Langevin proposal
with diagonal inverse metric m = 1/(s^2 + lam), so the MH ratio uses
log q(C'|C) = -sum (C' - C + eta m grad_C V)^2 / (4 eta m). In latent space it is (up to lam)
parallel per-point MALA with step eta: Z' = Z - eta dV/dZ + sqrt(2 eta) noise, whatever the
conditioning of G G^T.

Row-space noise (``row_space_noise``): the noise Xi projected onto the row space of G,
Xi Q Q^T with Q [d, n] an orthonormal basis of it (one QR of G^T per ``init``). The batch's
latents Z = G Phi^T see the same noise Xi G^T either way, and the drift -eta dV/dPhi already lies
in the row space, so the batch's latent chain and its MH test are unchanged (the null-space parts
of the forward and reverse proposal densities are equal and cancel). What goes is the motion of
Phi in the directions no feature of the batch touches: there the plain chain random-walks, by
sqrt(2 eta) per entry and accepted transition, and that walk moves the latents of every other
image (measured in docs/findings/2026-12-06-lae-core.md: removing it does not stop |Phi| from
growing on full Fashion-MNIST, so most of that growth comes from moves inside the row spaces).

A Gaussian prior on Phi (``phi_prior_std`` = sigma) adds |Phi|^2 / (2 sigma^2) to V, so that
directions of Phi that no batch constrains stay bounded instead of random-walking; the latents
then follow the posteriors times a factor N(Z; 0, sigma^2 G G^T) per latent coordinate, which is
flat when sigma^2 s_min^2 is much larger than the posterior variance.

Unconditional ALD (sampling an energy-based density p(z) ∝ exp(-E(z))): the same kernel with
features k(u_j) of fixed inputs u_j ~ N(0, I) drawn once and ``energy_fn = E``; the n rows of
G Phi^T are n parallel chains.

One chain over several processes (data parallel): each process holds a shard of the batch and
V is the sum over all shards. With ``reduce`` (a function that sums a tensor over the processes,
e.g. :func:`lae.train.distributed.all_reduce_sum`), every state's dV/dPhi and summed energy are
reduced in one collective per evaluation, so the MH test, the drift and (with a generator seeded
alike on every process) the noise and the uniform draw are the same everywhere: every process
holds the same Phi, the one chain of the global batch. A non-finite value on any shard makes the
reduced sums non-finite, so every process rejects alike.

ALD follows the protocol of the latent kernels, with the batch's features given at ``init`` and
kept in the state: ``state = ald.init(phi, energy_fn, features)``, then
``state, info = ald.step(state, energy_fn, generator)``. A new batch needs a new ``init`` (the
cached energies belong to the features they were computed with).

Example (unconditional form, a 2-D Gaussian energy):
    >>> import torch
    >>> g = torch.Generator().manual_seed(0)
    >>> feats = torch.tanh(torch.randn(16, 2, generator=g) @ torch.randn(2, 32, generator=g))
    >>> energy_fn = lambda z: 0.5 * (z - 1.0).pow(2).sum(-1)        # E(z), [n]
    >>> ald = ALD(step_size=0.3, preconditioned=True)
    >>> state = ald.init(torch.zeros(2, 32), energy_fn, feats)     # Phi [d_z=2, d=32]
    >>> for _ in range(50):
    ...     state, info = ald.step(state, energy_fn, g)
    >>> state.z.shape, info.acceptance.shape                        # 16 samples of p(z)
    (torch.Size([16, 2]), torch.Size([16]))

Reference: Taniguchi, Iwasawa, Kumagai, Matsuo, "Langevin autoencoders for learning deep latent
variable models", NeurIPS 2022 (ALD, Theorem 1).
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import NamedTuple

import torch
from torch import Tensor

from lae.samplers.base import (
    EnergyAndGrad,
    EnergyFn,
    Info,
    StepSize,
    energy_and_grad,
    energy_grad_and_param_grads,
    finite_per_chain,
    keep_finite,
    mala_log_acceptance,
    metropolis_hastings,
    randn_like,
)
from lae.samplers.kernels import check_step_size


class ALDState(NamedTuple):
    """State of an ALD chain for one batch of features.

    Attributes:
        phi: the chain, [d_z, d].
        z: latents G Phi^T, [n, d_z] (what a trace records).
        energy: per-point energies U(x_i, z_i), [n]; V = energy.sum().
        grad_z: dV/dZ, [n, d_z].
        grad_phi: dV/dPhi = grad_z^T G, [d_z, d] (summed over processes with ``reduce``).
        features: G, [n, d] (the batch the cached values belong to).
        basis: V of the thin SVD of G, [d, r] (preconditioned only, else None).
        inv_metric: 1 / (s^2 + lam), [r] (preconditioned only, else None).
        params: tensors (e.g. a decoder's weights) whose energy gradients the chain also keeps
            (``init(..., params=...)``); empty by default.
        param_grads: d V / d p for each of ``params`` at this state (the summed energy, without
            the prior on Phi), computed in the same backward pass as grad_z.
        total_energy: V without the prior on Phi, 0-d: ``energy.sum()``, summed over processes
            with ``reduce``.
        noise_basis: Q, an orthonormal basis of the row space of G, [d, n] (``row_space_noise``
            only, else None).
    """

    phi: Tensor
    z: Tensor
    energy: Tensor
    grad_z: Tensor
    grad_phi: Tensor
    features: Tensor
    basis: Tensor | None = None
    inv_metric: Tensor | None = None
    params: tuple[Tensor, ...] = ()
    param_grads: tuple[Tensor, ...] = ()
    total_energy: Tensor | None = None
    noise_basis: Tensor | None = None


Reduce = Callable[[Tensor], Tensor]  # a tensor summed over the processes sharing one chain


def _row_space(s: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Which singular values s (descending) of a matrix of ``shape`` are numerically nonzero
    (the tolerance of torch.linalg.matrix_rank: s_max * max(shape) * eps)."""
    return s > s[0] * max(shape) * torch.finfo(s.dtype).eps


def feature_rank(features: Tensor, singular_values: Tensor | None = None) -> int:
    """Numerical rank of features G [n, d] (pass its ``singular_values`` to save an SVD). Reads
    the result on the host: a diagnostic, not for every step."""
    if singular_values is None:
        singular_values = torch.linalg.svdvals(features.detach())
    return int(_row_space(singular_values, tuple(features.shape)).sum())


def rank_warning(rank: int | str, features: Tensor) -> str:
    """The warning for features G [n, d] whose rank (a number, or a bound such as "<= 64") is
    below the batch size n."""
    n, d = features.shape
    return (f"ALD features have rank {rank} < batch size {n} (feature width {d}): the latents "
            "cannot follow the product of the posteriors (Theorem 1 needs rank(G) = n, so "
            "d >= n)")


def check_rank(features: Tensor, stacklevel: int = 2,
               singular_values: Tensor | None = None) -> bool:
    """True when rank(G) = n for features G [n, d]; warns (``UserWarning``) otherwise.

    ALD samples the product of the n posteriors only if rank(G) = n (Theorem 1), which needs a
    feature width d >= n; with a lower rank the samples of some points are tied together.
    Pass ``singular_values`` of G when they are already at hand (saves an SVD). Computes the
    numerical rank, so it reads a tensor on the host: a diagnostic for logging steps.
    """
    rank = feature_rank(features, singular_values)
    if rank < features.shape[0]:
        warnings.warn(rank_warning(rank, features), stacklevel=stacklevel + 1)
    return rank == features.shape[0]


def stacklevel_outside_samplers() -> int:
    """The ``stacklevel``, as seen from the function that calls this one, of the first frame
    outside ``lae/samplers``: a sampler's warning names the code that used the sampler (the
    model), however many sampler functions lie between."""
    here = os.path.dirname(os.path.abspath(__file__))
    frame, level = sys._getframe(1), 1
    while frame is not None and os.path.dirname(os.path.abspath(frame.f_code.co_filename)) == here:
        frame, level = frame.f_back, level + 1
    return level


def check_width(features: Tensor, stacklevel: int = 2) -> bool:
    """The part of :func:`check_rank` that the shapes decide, without reading any tensor: warns
    when the batch size n exceeds the feature width d (then rank(G) <= d < n); True otherwise."""
    n, d = features.shape
    if n > d:
        warnings.warn(rank_warning(f"<= {d}", features), stacklevel=stacklevel + 1)
    return n <= d


@dataclass(frozen=True)
class ALD:
    r"""ALD transition on Phi (see the module docstring for the update rules).

    Args:
        step_size: eta on the SUMMED potential V (a float or 0-d tensor: Phi is one chain).
        mh: Metropolis–Hastings test with V and the (preconditioned) Langevin proposal density.
        preconditioned: use the constant row-space preconditioner A of methods.md 1b (one SVD of
            the features per ``init``, which reads the factorisation's status on the host).
        lam_rel: lam = lam_rel * s_ref^2 (preconditioned only).
        damping_ref: s_ref, ``"max"`` (largest singular value) or ``"median"``.
        phi_prior_std: sigma of a N(0, sigma^2) prior on every entry of Phi, or None (flat).
        row_space_noise: project the noise onto the row space of the batch's features (module
            docstring): the batch's chain is unchanged, Phi no longer random-walks in the
            directions the batch does not see. Not with ``preconditioned`` (whose moves already
            stay in the row space), ``phi_prior_std`` (whose drift leaves it) or ``reduce``
            (the projection needs every shard's features).
        differentiable: keep the autograd graph (Phi' differentiable w.r.t. Phi, the features and
            the energy's parameters). The preconditioner is always computed from detached features.
        reduce: sums a tensor over the processes that share this chain, each with a shard of the
            batch (module docstring); None: one process. Not with ``preconditioned`` (its SVD
            would need every shard's features) or ``differentiable``.
        value_and_grad: how (U, dU/dz) are computed where no parameter gradients are asked for
            (:func:`lae.samplers.base.energy_and_grad`, or one compiled graph for a compiled
            model: :func:`lae.samplers.base.compiled_energy_and_grad`).
    """

    step_size: StepSize
    mh: bool = True
    preconditioned: bool = False
    lam_rel: float = 1e-6
    damping_ref: str = "max"
    phi_prior_std: float | None = None
    row_space_noise: bool = False
    differentiable: bool = field(default=False, kw_only=True)
    reduce: Reduce | None = field(default=None, kw_only=True)
    value_and_grad: EnergyAndGrad = field(default=energy_and_grad, kw_only=True, repr=False)

    def __post_init__(self) -> None:
        if self.reduce is not None and (self.preconditioned or self.differentiable):
            raise ValueError("ALD: a chain shared by several processes (reduce) supports neither "
                             "preconditioned (its SVD needs every shard's features) nor "
                             "differentiable")
        if isinstance(self.step_size, Tensor) and self.step_size.numel() != 1:
            raise ValueError(f"ALD step_size must be one number (Phi is one chain); got shape "
                             f"{tuple(self.step_size.shape)}")
        check_step_size(self.step_size)
        if self.damping_ref not in ("max", "median"):
            raise ValueError(f"ALD damping_ref must be 'max' or 'median', got {self.damping_ref!r}")
        if self.phi_prior_std is not None and not self.phi_prior_std > 0:
            raise ValueError(f"ALD phi_prior_std must be > 0 or None, got {self.phi_prior_std}")
        if self.row_space_noise and (self.preconditioned or self.phi_prior_std is not None
                                     or self.reduce is not None):
            raise ValueError("ALD row_space_noise excludes preconditioned (already in the row "
                             "space), phi_prior_std (its drift leaves the row space) and reduce "
                             "(the projection needs every shard's features)")

    def with_step_size(self, step_size: StepSize) -> ALD:
        """The same kernel with another step size (used by step-size adaptation)."""
        return replace(self, step_size=step_size)

    def init(self, phi: Tensor, energy_fn: EnergyFn, features: Tensor,
             params: tuple[Tensor, ...] = ()) -> ALDState:
        """State for Phi [d_z, d] on a batch with features G [n, d]. Warns when n > d (then
        rank(G) < n); the numerical rank is :func:`check_rank`'s (a diagnostic). With
        ``params``, every state also carries d V / d p for each (``param_grads``): the LAE's
        parameter update averages them over the chain's states instead of evaluating the
        decoder there again (not with ``differentiable``)."""
        if params and self.differentiable:
            raise ValueError("ALD: params (cached parameter gradients) and differentiable "
                             "exclude each other")
        check_width(features, stacklevel=stacklevel_outside_samplers())  # at the model
        basis = inv_metric = None
        if self.preconditioned:
            _, s_all, vh = torch.linalg.svd(features.detach(), full_matrices=False)
            # keep the numerical row space: directions with s ~ 0 do not move z at all. The
            # mask is applied by multiplication (not boolean indexing, whose result size would
            # have to be read on the host): a dropped direction gets inv_metric 0.
            keep = _row_space(s_all, tuple(features.shape))
            s_ref = s_all[0] if self.damping_ref == "max" else _masked_median(s_all, keep)
            inv_metric = keep / (s_all.pow(2) + self.lam_rel * s_ref.pow(2))
            basis = vh.T
        state = self._state(phi, features, energy_fn, basis, inv_metric, tuple(params))
        if self.row_space_noise:
            # reduced QR of G^T: Q [d, min(n, d)] spans the row space (and, where G is rank
            # deficient, a few directions more, which the batch does not see either)
            state = state._replace(noise_basis=torch.linalg.qr(features.detach().T)[0])
        return state

    def potential(self, state: ALDState) -> Tensor:
        """V(Phi) of a state (of the global batch, with ``reduce``), with the prior on Phi if any:
        0-d."""
        v = state.total_energy
        if self.phi_prior_std is not None:
            v = v + 0.5 * state.phi.pow(2).sum() / self.phi_prior_std ** 2
        return v

    def _state(self, phi: Tensor, features: Tensor, energy_fn: EnergyFn, basis: Tensor | None,
               inv_metric: Tensor | None, params: tuple[Tensor, ...] = ()) -> ALDState:
        feats = features if self.differentiable else features.detach()
        if not self.differentiable:
            phi = phi.detach()
        z = feats @ phi.T
        param_grads: tuple[Tensor, ...] = ()
        if params:
            energy, grad_z, param_grads = energy_grad_and_param_grads(energy_fn, z, params)
        else:
            energy, grad_z = self.value_and_grad(energy_fn, z, self.differentiable)
        grad_phi = grad_z.T @ feats
        total = energy.sum()
        if self.reduce is not None:  # one collective for both sums
            packed = self.reduce(torch.cat([grad_phi.reshape(-1), total.reshape(1)]))
            grad_phi, total = packed[:-1].view_as(grad_phi), packed[-1]
        if self.phi_prior_std is not None:
            grad_phi = grad_phi + phi / self.phi_prior_std ** 2
        return ALDState(phi, z, energy, grad_z, grad_phi, features, basis, inv_metric, params,
                        param_grads, total)

    def step(self, state: ALDState, energy_fn: EnergyFn,
             generator: torch.Generator | None) -> tuple[ALDState, Info]:
        """One transition on the state's batch; returns info of shape [n] (acceptance is the one
        joint acceptance probability, repeated per point)."""
        eta = torch.as_tensor(self.step_size, dtype=state.phi.dtype, device=state.phi.device)
        phi, grad_phi, basis, m = state.phi, state.grad_phi, state.basis, state.inv_metric
        if state.noise_basis is not None:
            q = state.noise_basis
            xi = randn_like(phi, generator, shape=(phi.shape[0], q.shape[1]))
            phi_new = phi - eta * grad_phi + torch.sqrt(2 * eta) * (xi @ q.T)
        elif basis is None:
            phi_new = phi - eta * grad_phi + torch.sqrt(2 * eta) * randn_like(phi, generator)
        else:
            # drift grad_Phi V A and noise Xi L^T, both expressed in the V basis
            xi = randn_like(phi, generator, shape=(phi.shape[0], basis.shape[1]))
            phi_new = phi + (-eta * (grad_phi @ basis) * m + torch.sqrt(2 * eta * m) * xi) @ basis.T
        prop = self._state(phi_new, state.features, energy_fn, basis, m, state.params
                           )._replace(noise_basis=state.noise_basis)
        # Phi is one chain: a non-finite value anywhere in the proposal (an exploding step) is
        # rejected by MH, or, without MH, the chain stays at its last finite state. With reduce,
        # the reduced grad_phi and total_energy carry any shard's non-finite value to all.
        finite = finite_per_chain(prop, torch.Size([]))
        if self.mh:
            if basis is None:
                log_alpha = mala_log_acceptance(
                    phi, self.potential(state), grad_phi, phi_new, self.potential(prop),
                    prop.grad_phi, eta, batch_ndim=0)
            else:
                # coordinates C = Phi V in which the proposal is a diagonal-metric Langevin step;
                # dropped directions (m = 0) do not move and are left out of the density
                kept = m > 0
                safe_m = torch.where(kept, m, torch.ones_like(m))
                coords = lambda t: (t @ basis) * kept  # noqa: E731
                log_alpha = mala_log_acceptance(
                    coords(phi), self.potential(state), coords(grad_phi),
                    coords(phi_new), self.potential(prop), coords(prop.grad_phi),
                    eta, inv_metric=safe_m, batch_ndim=0)
            new, acceptance, _ = metropolis_hastings(log_alpha, state, prop, generator, finite)
        else:
            new, _ = keep_finite(state, prop, torch.Size([]))
            acceptance = finite.to(phi.dtype)
        shape = new.energy.shape
        return new, Info(acceptance.expand(shape), new.energy, new.grad_z.detach().norm(dim=-1),
                         (~finite).expand(shape))


def _masked_median(s: Tensor, keep: Tensor) -> Tensor:
    """Median (torch's lower median) of the kept entries of the descending s [r], without
    reading how many are kept on the host: the kept c entries come first, and the lower median
    (ascending index (c - 1) // 2) is at descending index c - 1 - (c - 1) // 2."""
    count = keep.sum()
    index = (count - 1 - (count - 1) // 2).clamp_min(0)
    return s.gather(0, index.reshape(1))[0]
