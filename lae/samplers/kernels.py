r"""Latent-space kernels: unadjusted Langevin, MALA and HMC (blackjax style, chains on dim 0).

Every kernel has ``init(z, energy_fn) -> SamplerState`` and
``step(state, energy_fn, generator) -> (SamplerState, Info)``, both named tuples of tensors
(lae.samplers.base). Underneath, ``transition(state, evaluate, generator)`` takes any named
tuple with ``z``, ``energy`` and ``grad`` (fields or properties) and ``evaluate: z -> state``
of that type: annealed importance sampling (lae.eval.ais) runs the same kernels on states that
keep log p(z) and log p(x|z) apart, so that one decoder pass serves every temperature.
``Info`` holds [B] tensors ``acceptance`` (probability min(1, alpha); ones for unadjusted
Langevin), ``energy`` and ``grad_norm`` of the returned state, and ``nonfinite`` (True where the
proposal had a non-finite energy, gradient or position: MALA and HMC reject it, unadjusted
Langevin stays where it was). The generator is a required argument: pass ``None``
explicitly to draw from torch's global stream.

A step never reads a tensor on the host: accept/reject is ``torch.where`` per chain, and a step
size given as a tensor (an adapted one) is not checked (a float is, when the kernel is built), so
steps can run back to back on a GPU without waiting for it.

``step_size`` is a float or per-chain tensor [B] (broadcast over trailing dims). With
``differentiable=True`` the autograd graph is kept, so z' is a differentiable function of z and of
the energy's parameters; otherwise nothing leaks into the energy's parameters.

Example:
    >>> import torch
    >>> energy_fn = lambda z: 0.5 * z.pow(2).sum(-1)        # N(0, I), one energy per chain
    >>> kernel = MALA(step_size=0.5)
    >>> g = torch.Generator().manual_seed(0)
    >>> state = kernel.init(torch.zeros(4, 2), energy_fn)
    >>> state, info = kernel.step(state, energy_fn, g)
    >>> state.z.shape, info._fields
    (torch.Size([4, 2]), ('acceptance', 'energy', 'grad_norm', 'nonfinite'))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TypeVar

import torch
from torch import Tensor

from lae.samplers.base import (
    EnergyAndGrad,
    EnergyFn,
    Info,
    SamplerState,
    StepSize,
    energy_and_grad,
    expand_step_size,
    finite_per_chain,
    hmc_log_acceptance,
    hmc_proposal,
    keep_finite,
    mala_log_acceptance,
    metropolis_hastings,
    per_chain_norm,
    randn_like,
)

ChainState = TypeVar("ChainState", bound=tuple)  # a named tuple with z, energy and grad
Evaluate = Callable[[Tensor], ChainState]  # z [B, ...] -> the state at z


def check_step_size(step_size: StepSize) -> None:
    """A step size given as a number must be > 0. Tensors (adapted step sizes, exp of a log) are
    left unchecked: reading them would make the host wait for the device in every step."""
    if isinstance(step_size, (int, float)) and not step_size > 0:
        raise ValueError(f"step_size must be > 0, got {step_size}")


@dataclass(frozen=True)
class _LatentKernel:
    """init/with_step_size shared by the latent-space kernels."""

    step_size: StepSize
    differentiable: bool = field(default=False, kw_only=True)
    # how (U, dU/dz) are computed: energy_and_grad, or one compiled graph for a compiled model
    # (lae.samplers.base.compiled_energy_and_grad)
    value_and_grad: EnergyAndGrad = field(default=energy_and_grad, kw_only=True, repr=False)

    def __post_init__(self) -> None:
        check_step_size(self.step_size)

    def init(self, z: Tensor, energy_fn: EnergyFn) -> SamplerState:
        """Evaluate energy and gradient at the starting point z [B, ...]."""
        if not self.differentiable:
            z = z.detach()
        energy, grad = self.value_and_grad(energy_fn, z, self.differentiable)
        return SamplerState(z, energy, grad)

    def with_step_size(self, step_size: StepSize) -> _LatentKernel:
        """The same kernel with another step size (used by step-size adaptation)."""
        return replace(self, step_size=step_size)

    def evaluator(self, energy_fn: EnergyFn) -> Evaluate:
        """``z -> SamplerState(z, U(z), dU/dz)``: how :meth:`step` evaluates its proposals."""
        return lambda z: SamplerState(z, *self.value_and_grad(energy_fn, z, self.differentiable))

    def step(self, state: SamplerState, energy_fn: EnergyFn,
             generator: torch.Generator | None) -> tuple[SamplerState, Info]:
        """One transition leaving exp(-U) invariant (MALA, HMC; approximately for unadjusted
        Langevin) from ``state`` (energy and gradient at ``state.z`` cached in it)."""
        return self.transition(state, self.evaluator(energy_fn), generator)

    def transition(self, state: ChainState, evaluate: Evaluate,
                   generator: torch.Generator | None) -> tuple[ChainState, Info]:
        """:meth:`step` on any state type with ``z``, ``energy`` and ``grad``, its proposals
        evaluated by ``evaluate``."""
        raise NotImplementedError

    @staticmethod
    def _langevin_proposal(state: ChainState, evaluate: Evaluate,
                           generator: torch.Generator | None, eta: Tensor) -> ChainState:
        """The Langevin move from ``state`` at the expanded step size ``eta``."""
        return evaluate(state.z - eta * state.grad
                        + torch.sqrt(2 * eta) * randn_like(state.z, generator))

    @staticmethod
    def _info(state: ChainState, acceptance: Tensor, finite: Tensor) -> Info:
        return Info(acceptance, state.energy, per_chain_norm(state.grad.detach()), ~finite)

    def _metropolis(self, log_alpha: Tensor, state: ChainState, prop: ChainState,
                    generator: torch.Generator | None) -> tuple[ChainState, Info]:
        finite = finite_per_chain(prop, state.energy.shape)
        new, acceptance, _ = metropolis_hastings(log_alpha, state, prop, generator, finite)
        return new, self._info(new, acceptance, finite)


@dataclass(frozen=True)
class Langevin(_LatentKernel):
    r"""Unadjusted Langevin algorithm (ULA):

    .. math::  z' = z - \eta \nabla U(z) + \sqrt{2\eta}\, \xi, \quad \xi \sim \mathcal N(0, I).

    Biased at finite eta (for a Gaussian with precision P the stationary covariance is
    (P (I - eta P / 2))^{-1} instead of P^{-1}); the bias vanishes as eta -> 0.

    Reference: Roberts and Tweedie, Bernoulli 1996.
    """

    def transition(self, state: ChainState, evaluate: Evaluate,
                   generator: torch.Generator | None) -> tuple[ChainState, Info]:
        prop = self._langevin_proposal(state, evaluate, generator,
                                       expand_step_size(self.step_size, state.z))
        new, nonfinite = keep_finite(state, prop, state.energy.shape)
        return new, self._info(new, (~nonfinite).to(new.energy.dtype), ~nonfinite)


@dataclass(frozen=True)
class MALA(_LatentKernel):
    r"""Metropolis-adjusted Langevin: the Langevin step as a proposal z -> z', accepted with

    .. math::

        \log\alpha = U(z) - U(z') + \log q(z \mid z') - \log q(z' \mid z), \qquad
        \log q(a \mid b) = -\lVert a - b + \eta \nabla U(b) \rVert^2 / (4\eta),

    the reverse proposal built at z'. Exact for any eta; aim at an acceptance near 0.574.

    Reference: Roberts and Tweedie, Bernoulli 1996; Roberts and Rosenthal, JRSS-B 1998.
    """

    def transition(self, state: ChainState, evaluate: Evaluate,
                   generator: torch.Generator | None) -> tuple[ChainState, Info]:
        eta = expand_step_size(self.step_size, state.z)
        prop = self._langevin_proposal(state, evaluate, generator, eta)
        log_alpha = mala_log_acceptance(state.z, state.energy, state.grad, prop.z, prop.energy,
                                        prop.grad, eta)
        return self._metropolis(log_alpha, state, prop, generator)


@dataclass(frozen=True)
class HMC(_LatentKernel):
    r"""Hamiltonian Monte Carlo with kinetic energy ||p||^2/2 and ``n_leapfrog`` leapfrog steps
    of size eps = ``step_size``:

    .. math::

        p_{1/2} = p - \tfrac{\epsilon}{2} \nabla U(z), \quad z_1 = z + \epsilon p_{1/2}, \quad
        p_1 = p_{1/2} - \tfrac{\epsilon}{2} \nabla U(z_1), \ \dots

    then an MH test on the total energy H = U(z) + ||p||^2/2:
    log alpha = H(z, p) - H(z', p'). Note eps is a leapfrog step, not a Langevin eta:
    HMC with one leapfrog step is MALA with eta = eps^2 / 2. Aim at an acceptance near 0.65.

    Reference: Neal, "MCMC using Hamiltonian dynamics", Handbook of MCMC, 2011.
    """

    n_leapfrog: int = 10

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.n_leapfrog < 1:
            raise ValueError(f"n_leapfrog must be >= 1, got {self.n_leapfrog}")

    def transition(self, state: ChainState, evaluate: Evaluate,
                   generator: torch.Generator | None) -> tuple[ChainState, Info]:
        eps = expand_step_size(self.step_size, state.z)
        prop, p0, p = hmc_proposal(state.z, state.grad, eps, self.n_leapfrog, evaluate,
                                   lambda s: s.grad, generator)
        log_alpha = hmc_log_acceptance(state.energy, p0, prop.energy, p)
        return self._metropolis(log_alpha, state, prop, generator)


@dataclass(frozen=True)
class KernelSpec:
    """A registered latent kernel: its class and the acceptance rate its step size is adapted
    toward (None for an unadjusted kernel, which accepts everything: nothing to adapt)."""

    cls: type[_LatentKernel]
    target_acceptance: float | None


MALA_TARGET = 0.574  # MALA's optimal acceptance (Roberts and Rosenthal 1998)
HMC_TARGET = 0.65  # HMC's (Beskos et al. 2013; Neal 2011)

#: The latent-space kernels by config name (optimal-scaling targets: Roberts and Rosenthal 1998
#: for MALA; Beskos et al. 2013 / Neal 2011 for HMC).
KERNELS: dict[str, KernelSpec] = {
    "langevin": KernelSpec(Langevin, None),
    "mala": KernelSpec(MALA, MALA_TARGET),
    "hmc": KernelSpec(HMC, HMC_TARGET),
}


def build_kernel(name: str, step_size: StepSize, *, n_leapfrog: int = 10,
                 differentiable: bool = False,
                 value_and_grad: EnergyAndGrad = energy_and_grad) -> _LatentKernel:
    """The registered kernel ``name`` at ``step_size`` (``n_leapfrog`` is used by HMC only),
    its energies and gradients computed by ``value_and_grad``.

    Example:
        >>> build_kernel("hmc", 0.1, n_leapfrog=3)
        HMC(step_size=0.1, differentiable=False, n_leapfrog=3)
    """
    if name not in KERNELS:
        raise ValueError(f"unknown kernel {name!r}; choices: {', '.join(KERNELS)}")
    options = {"n_leapfrog": n_leapfrog} if KERNELS[name].cls is HMC else {}
    return KERNELS[name].cls(step_size, differentiable=differentiable,
                             value_and_grad=value_and_grad, **options)
