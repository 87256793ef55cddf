r"""Shared pieces of every kernel: energies and gradients, the Langevin proposal density, and one
Metropolis–Hastings helper used by MALA, HMC and ALD.

Conventions (docs/methods.md, section 0): an energy function maps chains ``z`` of shape
[B, ...] to one energy per chain, shape [B]; the Langevin step is

.. math::

    z' = z - \eta \nabla U(z) + \sqrt{2\eta}\, \xi, \qquad \xi \sim \mathcal N(0, I),

and its proposal density (up to a constant that cancels in the MH ratio) is

.. math::

    \log q(a \mid b) = -\frac{\lVert a - b + \eta \nabla U(b) \rVert^2}{4\eta}.

Reference: Roberts and Tweedie, "Exponential convergence of Langevin distributions and their
discrete approximations", Bernoulli 1996.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import NamedTuple, TypeVar

import torch
from torch import Tensor

EnergyFn = Callable[[Tensor], Tensor]
StepSize = float | Tensor
S = TypeVar("S", bound=tuple)


class SamplerState(NamedTuple):
    """State of a latent-space chain (Langevin, MALA, HMC).

    Attributes:
        z: positions, [B, ...].
        energy: U(z), [B].
        grad: dU/dz, [B, ...] (cached so that a step costs one gradient evaluation).
    """

    z: Tensor
    energy: Tensor
    grad: Tensor


class Info(NamedTuple):
    """What one transition reports, per chain ([B]; ALD repeats its one joint value per point).

    Attributes:
        acceptance: MH acceptance probability min(1, alpha), detached (ones for an unadjusted
            kernel's finite moves, zeros where a move was held back).
        energy: U of the returned state.
        grad_norm: Euclidean norm of the returned state's energy gradient.
        nonfinite: True where the proposal had a non-finite energy, gradient or position (MH
            rejects it; an unadjusted kernel stays where it was), bool.
    """

    acceptance: Tensor
    energy: Tensor
    grad_norm: Tensor
    nonfinite: Tensor


@contextmanager
def seeded_global_rng(seed: int) -> Iterator[None]:
    """Seed torch's global RNGs for a block and restore every one of them afterwards.

    ``torch.manual_seed`` reseeds the CPU and every CUDA device, so every device's state is
    forked: forking only the CPU's (or one GPU's) would leave a GPU run's training noise
    reset to this seed after each evaluation. For code that draws from the global RNG
    (torch.distributions); kernels take a ``torch.Generator`` instead.
    """
    cuda = list(range(torch.cuda.device_count())) if torch.cuda.is_initialized() else []
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(seed)
        yield


def energy_and_grad(energy_fn: EnergyFn, z: Tensor,
                    create_graph: bool = False) -> tuple[Tensor, Tensor]:
    """Energy per chain and its gradient with respect to ``z``.

    Args:
        energy_fn: ``z [B, ...] -> U [B]``; chains must not interact (the gradient of the sum of
            energies is taken, which is the per-chain gradient only for per-chain energies).
        z: [B, ...].
        create_graph: keep the autograd graph (``differentiable=True`` kernels). Otherwise the
            energy is evaluated on a detached copy of ``z``, so no gradient reaches ``z``'s history
            or the energy's parameters, and both outputs are detached.

    Returns:
        ``(U [B], grad [B, ...])``.
    """
    energy, grad, _ = _energy_and_grads(energy_fn, z, (), create_graph)
    return energy, grad


def _energy_and_grads(energy_fn: EnergyFn, z: Tensor, params: tuple[Tensor, ...],
                      create_graph: bool) -> tuple[Tensor, Tensor, tuple[Tensor, ...]]:
    """U [B], dU/dz and d sum U / d p for each of ``params``, in one backward pass (the body of
    :func:`energy_and_grad` and :func:`energy_grad_and_param_grads`)."""
    with torch.enable_grad():  # samplers are often called under torch.no_grad()
        z_in = z if (create_graph and z.requires_grad) else z.detach().requires_grad_(True)
        energy = energy_fn(z_in)
        if energy.shape != z.shape[:1]:
            raise ValueError("energy_fn must return one energy per chain, shape "
                             f"{tuple(z.shape[:1])}; got {tuple(energy.shape)}")
        grads = torch.autograd.grad(energy.sum(), (z_in, *params), create_graph=create_graph,
                                    allow_unused=bool(params))
    param_grads = tuple(torch.zeros_like(p) if g is None else g
                        for p, g in zip(params, grads[1:]))
    return (energy if create_graph else energy.detach()), grads[0], param_grads


EnergyAndGrad = Callable[[EnergyFn, Tensor, bool], tuple[Tensor, Tensor]]


def compile_keeping_graphs(fn: Callable, mode: str = "default") -> Callable:
    """``torch.compile(fn, mode=mode, dynamic=False)`` whose compiled backward may run with
    ``retain_graph=True``: by default AOTAutograd donates the saved buffers of a compiled graph to
    its backward, which then refuses a retained graph, and the trainer backpropagates the loss
    groups of one graph in turn (each but the last with ``retain_graph=True``). One graph per
    input shape; called while another function is being compiled, ``fn`` is traced into that
    graph."""
    compiled = torch.compile(fn, mode=mode, dynamic=False)

    def call(*args, **kwargs):
        if torch.compiler.is_compiling():
            return fn(*args, **kwargs)
        with torch._functorch.config.patch(donated_buffer=False):
            return compiled(*args, **kwargs)
    return call


def compiled_energy_and_grad(mode: str = "default") -> EnergyAndGrad:
    """:func:`energy_and_grad`, with the energy and its gradient computed by one compiled graph
    (``torch.func.grad_and_value`` under :func:`compile_keeping_graphs`).

    For chains that are differentiated through (``create_graph=True``: the Langevin bound of
    short-run inference): a compiled energy under ``autograd.grad(create_graph=True)`` would need
    the double backward of compiled code, which torch.compile does not support, whereas here the
    gradient is an output of the forward graph and the loss needs only its first-order backward.
    Equal to :func:`energy_and_grad` within float rounding; the graph is traced through
    ``energy_fn`` (one per energy function's code and input shape).

    Example::

        >>> step = compiled_energy_and_grad()
        >>> u, g = step(lambda z: 0.5 * z.pow(2).sum(-1), torch.ones(3, 2), False)
        >>> g.tolist()
        [[1.0, 1.0], [1.0, 1.0], [1.0, 1.0]]
    """
    def value_and_grad(energy_fn: EnergyFn, z: Tensor) -> tuple[Tensor, Tensor]:
        def summed(zz: Tensor) -> tuple[Tensor, Tensor]:
            energy = energy_fn(zz)
            return energy.sum(), energy
        grad, (_, energy) = torch.func.grad_and_value(summed, has_aux=True)(z)
        return energy, grad

    compiled = compile_keeping_graphs(value_and_grad, mode)

    def energy_and_grad_compiled(energy_fn: EnergyFn, z: Tensor,
                                 create_graph: bool = False) -> tuple[Tensor, Tensor]:
        if create_graph:
            return compiled(energy_fn, z)
        with torch.no_grad():
            energy, grad = compiled(energy_fn, z.detach())
        return energy.detach(), grad.detach()
    return energy_and_grad_compiled


def energy_grad_and_param_grads(energy_fn: EnergyFn, z: Tensor, params: tuple[Tensor, ...]
                                ) -> tuple[Tensor, Tensor, tuple[Tensor, ...]]:
    """:func:`energy_and_grad` plus the gradient of the summed energy with respect to
    ``params`` (e.g. a decoder's weights), taken in the same backward pass, so that a chain's
    energy evaluations can also serve a parameter update. All outputs are detached; a
    parameter the energy does not use gets zeros.

    Returns:
        ``(U [B], dU/dz [B, ...], (d sum U / d p for p in params))``.
    """
    return _energy_and_grads(energy_fn, z, params, create_graph=False)


def tile_batch(x: Tensor, times: int) -> Tensor:
    """x [B, ...] repeated ``times`` times along dim 0: [times * B, ...], block t holding a copy
    of the whole batch (the layout of ``z.reshape(times * B, ...)`` for z [times, B, ...])."""
    return x.expand(times, *x.shape).reshape(times * x.shape[0], *x.shape[1:])


def sum_event(x: Tensor, batch_ndim: int = 1) -> Tensor:
    """Sum over all dimensions after the first ``batch_ndim`` ([B, ...] -> [B]; 0 -> scalar)."""
    if x.ndim == batch_ndim:
        return x
    return x.sum(dim=tuple(range(batch_ndim, x.ndim)))


def per_chain_norm(x: Tensor) -> Tensor:
    """Euclidean norm of each chain's entry, [B, ...] -> [B]."""
    return torch.linalg.vector_norm(x, dim=tuple(range(1, x.ndim))) if x.ndim > 1 else x.abs()


def expand_step_size(step_size: StepSize, z: Tensor) -> Tensor:
    """A float, a 0-d tensor, per-chain step sizes [B], or per chain and coordinate (z's own
    shape, a diagonal metric: e.g. one step size per latent layer), shaped to broadcast against
    ``z``."""
    eta = torch.as_tensor(step_size, dtype=z.dtype, device=z.device)
    if eta.ndim == 0 or eta.shape == z.shape:
        return eta
    if eta.shape != z.shape[:1]:
        raise ValueError(f"per-chain step sizes must have shape {tuple(z.shape[:1])} (or "
                         f"{tuple(z.shape)}, per coordinate); got {tuple(eta.shape)}")
    return eta.reshape(eta.shape + (1,) * (z.ndim - 1))


def randn_like(x: Tensor, generator: torch.Generator | None, shape: tuple[int, ...] | None = None
               ) -> Tensor:
    """Standard normal noise drawn from ``generator`` (``torch.randn_like`` takes none)."""
    return torch.randn(x.shape if shape is None else shape, dtype=x.dtype, device=x.device,
                       generator=generator)


def langevin_log_q(a: Tensor, b: Tensor, grad_b: Tensor, step_size: Tensor | float,
                   inv_metric: Tensor | float = 1.0, batch_ndim: int = 1) -> Tensor:
    r"""Log density (up to a constant) of the Langevin proposal from ``b`` to ``a``.

    .. math::

        \log q(a \mid b) = -\sum \frac{(a - b + \eta M g_b)^2}{4 \eta M}

    with a diagonal inverse metric ``M`` (1 for plain Langevin; ``1/(s^2+lambda)`` in the
    coordinates of preconditioned ALD), i.e. a is drawn from N(b - eta M g_b, 2 eta M). The
    dropped constant depends only on eta and M, which are the same forwards and backwards.

    Args:
        a, b, grad_b: [B, ...] (or any shape with ``batch_ndim`` leading batch dims).
        step_size: eta, broadcastable to ``a``.
        inv_metric: M, broadcastable to ``a``.
        batch_ndim: leading dims that index chains; the rest are summed.
    """
    scale = step_size * inv_metric if isinstance(inv_metric, Tensor) or inv_metric != 1.0 \
        else step_size
    drift = scale * grad_b
    return sum_event((a - b + drift).square() / (-4 * scale), batch_ndim)


def mala_log_acceptance(x: Tensor, energy_x: Tensor, grad_x: Tensor, y: Tensor, energy_y: Tensor,
                        grad_y: Tensor, step_size: Tensor | float,
                        inv_metric: Tensor | float = 1.0, batch_ndim: int = 1) -> Tensor:
    r"""log alpha of the MALA move x -> y:

    .. math::

        \log\alpha = U(x) - U(y) + \log q(x \mid y) - \log q(y \mid x),

    where the reverse proposal q(x | y) is built **at the proposed state y** (with grad_y).
    Returns [B] (a scalar when ``batch_ndim == 0``); the acceptance probability is
    ``min(1, exp(log_alpha))``.
    """
    return (energy_x - energy_y
            + langevin_log_q(x, y, grad_y, step_size, inv_metric, batch_ndim)
            - langevin_log_q(y, x, grad_x, step_size, inv_metric, batch_ndim))


def hmc_proposal(z: Tensor, grad: Tensor, step_size: Tensor, n_leapfrog: int,
                 evaluate: Callable[[Tensor], S], grad_of: Callable[[S], Tensor],
                 generator: torch.Generator | None = None) -> tuple[S, Tensor, Tensor]:
    """Momentum p0 ~ N(0, I) and ``n_leapfrog`` leapfrog steps from z [B, K] with energy gradient
    ``grad`` [B, K]: half momentum steps at both ends, full ones in between.

    ``evaluate(z)`` gives the state at a position (energy and gradient cached in it) and
    ``grad_of(state)`` its energy gradient. Returns ``(state at the end, p0, p_end)``; the MH
    test is :func:`hmc_log_acceptance`. Shared by ``HMC`` and the AIS transitions.
    """
    p0 = randn_like(z, generator)
    p = p0 - 0.5 * step_size * grad
    for i in range(n_leapfrog):
        z = z + step_size * p
        new = evaluate(z)
        p = p - (step_size if i < n_leapfrog - 1 else 0.5 * step_size) * grad_of(new)
    return new, p0, p


def hmc_log_acceptance(energy: Tensor, p0: Tensor, energy_new: Tensor, p_new: Tensor) -> Tensor:
    """log alpha = H(z, p0) - H(z', p') with H = U + ||p||^2 / 2, per chain [B]."""
    return energy + 0.5 * sum_event(p0.pow(2)) - (energy_new + 0.5 * sum_event(p_new.pow(2)))


def finite_per_chain(state: tuple, batch_shape: torch.Size) -> Tensor:
    """True where every tensor field of ``state`` is finite for that chain: [*batch_shape].

    Fields whose leading dims are not ``batch_shape`` (shared ones, e.g. ALD's features) are
    left out; a 0-d ``batch_shape`` (ALD's one chain) reduces each field to one flag.
    """
    ok = None
    nd = len(batch_shape)
    for t in state:
        if isinstance(t, Tensor) and t.is_floating_point() and t.shape[:nd] == batch_shape:
            fin = torch.isfinite(t)
            fin = fin.all(dim=tuple(range(nd, t.ndim))) if t.ndim > nd else fin
            ok = fin if ok is None else ok & fin
    if ok is None:  # no per-chain field: nothing can be non-finite
        device = next((t.device for t in state if isinstance(t, Tensor)), None)
        ok = torch.ones(batch_shape, dtype=torch.bool, device=device)
    return ok


def select_chains(take: Tensor, current: S, proposal: S) -> S:
    """Per chain, the proposal where ``take`` [B] (or 0-d) is true, else the current state.
    Tensor fields shared by both states (the same object) are kept as they are; a field that is
    a tuple of tensors (ALD's parameter gradients) is selected whole, which needs a 0-d
    ``take`` (one chain)."""

    masks: dict[torch.Size, Tensor] = {}

    def where(cur: Tensor, prop: Tensor) -> Tensor:
        # an explicitly expanded mask (torch.where's broadcasting path is slower on the CPU),
        # built once per shape
        if cur.shape not in masks:
            masks[cur.shape] = (take if cur.shape == take.shape else take.reshape(
                take.shape + (1,) * (cur.ndim - take.ndim)).expand_as(cur))
        return torch.where(masks[cur.shape], prop, cur)

    fields = []
    for cur, prop in zip(current, proposal, strict=True):
        if isinstance(cur, Tensor) and prop is not cur:
            fields.append(where(cur, prop))
        elif isinstance(cur, tuple) and cur and prop is not cur:
            if take.ndim:
                raise ValueError("a tuple field is selected whole: it needs one decision (0-d)")
            fields.append(tuple(where(c, p) for c, p in zip(cur, prop, strict=True)))
        else:
            fields.append(cur)
    return type(current)(*fields)


def keep_finite(current: S, proposal: S, batch_shape: torch.Size) -> tuple[S, Tensor]:
    """An unadjusted move that never leaves finite ground: chains whose proposal has a
    non-finite value (energy, gradient or position) stay at their current, finite state.
    Returns ``(state, nonfinite)`` with ``nonfinite`` [*batch_shape] the chains held back."""
    ok = finite_per_chain(proposal, batch_shape)
    return select_chains(ok, current, proposal), ~ok


def metropolis_hastings(log_alpha: Tensor, current: S, proposal: S,
                        generator: torch.Generator | None = None,
                        proposal_finite: Tensor | None = None) -> tuple[S, Tensor, Tensor]:
    """Accept or reject a proposal, chain by chain.

    Args:
        log_alpha: log acceptance ratio, [B] (one test per chain) or a scalar (one chain, ALD).
            NaN counts as -inf (rejected), and so does a proposal with any non-finite field
            (an energy of -inf would otherwise give alpha = +inf and be accepted).
        current, proposal: states of the same NamedTuple type. Tensor fields whose leading dims
            match ``log_alpha``'s are selected per chain; fields shared by both states (the same
            object, e.g. ALD's features) are kept as they are.
        generator: source of the uniform draw.
        proposal_finite: :func:`finite_per_chain` of the proposal, where the caller has it.

    Returns:
        ``(state, acceptance, accepted)``: the new state; the acceptance probability
        ``min(1, alpha)`` (a smoother adaptation signal than the 0/1 outcome), detached; and the
        boolean outcome, both shaped like ``log_alpha``.
    """
    finite = (finite_per_chain(proposal, log_alpha.shape) if proposal_finite is None
              else proposal_finite)
    # NaN compares false (rejected); a non-finite proposal is rejected whatever log_alpha says
    log_alpha = log_alpha.detach()
    u = torch.rand(log_alpha.shape, dtype=log_alpha.dtype, device=log_alpha.device,
                   generator=generator)
    accepted = (torch.log(u) < log_alpha) & finite
    acceptance = torch.where(finite, log_alpha.clamp(max=0.0).exp().nan_to_num(nan=0.0), 0.0)
    return select_chains(accepted, current, proposal), acceptance, accepted
