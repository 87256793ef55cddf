r"""Running a kernel: step-size adaptation during warm-up, thinning, traces and diagnostics.

Adaptation is Robbins–Monro on the log step size, per chain or global:

.. math::

    \log\eta_{t+1} = \log\eta_t + \gamma_0 (t + 1)^{-\kappa} (a_t - a^\star),

with a_t the acceptance probability of step t and a* the target (0.574 for MALA, 0.65 for HMC).
With 1/2 < kappa <= 1 the gains satisfy the Robbins–Monro conditions. It runs only during warm-up;
afterwards the step size is frozen, so the kept samples come from a fixed (valid) kernel.

Reference: Andrieu and Thoms, "A tutorial on adaptive MCMC", Statistics and Computing 2008.

Example:
    >>> import torch
    >>> from lae.samplers import MALA
    >>> energy_fn = lambda z: 0.5 * z.pow(2).sum(-1)
    >>> kernel = MALA(0.1)
    >>> state = kernel.init(torch.zeros(8, 2), energy_fn)
    >>> state, trace, info = run_chain(kernel, state, energy_fn, 20, warmup=30,
    ...                                adapt=StepSizeAdapter(0.574), thin=2,
    ...                                generator=torch.Generator().manual_seed(0))
    >>> trace.shape, info.acceptance.shape, info.step_size.shape
    (torch.Size([10, 8, 2]), torch.Size([20, 8]), torch.Size([8]))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

import torch
from torch import Tensor
from tqdm.auto import tqdm

from lae.samplers.base import EnergyFn, Info, StepSize


class Kernel(Protocol):
    """What run_chain needs: a step over a state (Langevin, MALA, HMC, ALD) and a way to change
    the step size. States are built by the kernel's own ``init`` (ALD's takes the features)."""

    step_size: StepSize

    def step(self, state: Any, energy_fn: EnergyFn,
             generator: torch.Generator | None) -> tuple[Any, Info]: ...

    def with_step_size(self, step_size: StepSize) -> Kernel: ...


class ChainInfo(NamedTuple):
    """The post-warm-up diagnostics of :func:`run_chain`: each :class:`Info` field stacked over
    the kept steps, [n_steps, B], and the step size used after warm-up (0-d or [B])."""

    acceptance: Tensor
    energy: Tensor
    grad_norm: Tensor
    nonfinite: Tensor
    step_size: Tensor


STEP_RULES = ("fixed", "adapted", "learned")


class ChainReport(NamedTuple):
    """One Markov chain after a training step, as a model reports it to the trainer (which logs
    it and watches it for stalls): its mean step size, its mean acceptance probability (None
    for a chain without an accept/reject test), and how its step size moves: ``"fixed"``,
    ``"adapted"`` toward a target acceptance, or ``"learned"`` by a loss."""

    step_size: Tensor | float
    acceptance: Tensor | float | None = None
    rule: str = "fixed"

    def metrics(self, prefix: str = "") -> dict[str, Tensor | float]:
        """The logged values: ``<prefix>step_size`` and ``<prefix>acceptance`` (where there is
        one)."""
        out = {f"{prefix}step_size": self.step_size}
        if self.acceptance is not None:
            out[f"{prefix}acceptance"] = self.acceptance
        return out


@dataclass(frozen=True)
class StepSizeAdapter:
    """Robbins–Monro adaptation of log eta toward a target acceptance (formula in the module doc).

    Args:
        target_acceptance: a* in (0, 1).
        per_chain: one step size per chain ([B]) or one global step size (from the mean
            acceptance; use this for ALD, whose Phi is one chain).
        gain: gamma_0.
        decay: kappa in (1/2, 1] for warm-up that converges; 0 gives a constant gain, for
            adaptation during training, where the target keeps moving (Hoffman, LD, the LAE).
        fall_gain: the gain (before decay) when the acceptance is below the target, so that a
            step that has become too long (a posterior that sharpens as the model trains) falls
            faster than a short one grows; None: ``gain`` both ways. The rule then settles
            where gain (a - a*) balances fall_gain (a* - a), at an acceptance above a*.
    """

    target_acceptance: float
    per_chain: bool = True
    gain: float = 1.0
    decay: float = 0.6
    fall_gain: float | None = None

    def __post_init__(self) -> None:
        if not 0 < self.target_acceptance < 1:
            raise ValueError(f"target_acceptance must be in (0, 1), got {self.target_acceptance}")
        if not self.gain >= 0 or (self.fall_gain is not None and not self.fall_gain > 0):
            raise ValueError(f"gain must be >= 0 (0: the step stays) and fall_gain > 0, got "
                             f"{self.gain}, {self.fall_gain}")

    @property
    def rule(self) -> str:
        """How a step size under this adapter moves, as :class:`ChainReport` names it:
        ``"adapted"``, or ``"fixed"`` when both gains are 0."""
        return "adapted" if self.gain > 0 or self.fall_gain else "fixed"

    def init(self, step_size: StepSize, n_chains: int, dtype: torch.dtype = torch.float32
             ) -> Tensor:
        """Initial log step size: [n_chains] if per_chain, else a 0-d tensor."""
        log_eta = torch.as_tensor(step_size, dtype=dtype).log()
        if self.per_chain:
            return log_eta.expand(n_chains).clone()
        return log_eta.mean() if log_eta.ndim else log_eta

    def update(self, log_step_size: Tensor, acceptance: Tensor, t: int) -> Tensor:
        """One Robbins–Monro update at warm-up step t (0-based) from acceptance [B]."""
        a = acceptance.detach()
        if not self.per_chain:
            a = a.mean()
        gain = self.gain * (t + 1) ** (-self.decay)
        if self.fall_gain is not None:  # per chain: the faster gain where a < a*
            fall = self.fall_gain * (t + 1) ** (-self.decay)
            gain = torch.where(a < self.target_acceptance, fall, gain).to(log_step_size.dtype)
            return log_step_size + gain * (a.to(log_step_size.dtype) - self.target_acceptance)
        # log eta + gain (a - a*), as one fused op: log eta + gain * a - gain * a*
        return torch.add(log_step_size - gain * self.target_acceptance, a.to(log_step_size.dtype),
                         alpha=gain)

    def adapt_(self, log_step_size: Tensor, acceptance: Tensor, t: int = 0,
               index: Tensor | None = None) -> None:
        """:meth:`update` written in place into a model's log-step-size buffer (a chain that
        adapts while the model trains): the whole buffer, or its rows ``index`` [B] (one step
        size per training example) from acceptance [B]."""
        if index is None:
            log_step_size.copy_(self.update(log_step_size, acceptance, t))
        else:
            log_step_size[index] = self.update(log_step_size[index], acceptance, t)


def run_chain(kernel: Kernel, state: Any, energy_fn: EnergyFn, n_steps: int, *,
              generator: torch.Generator | None, warmup: int = 0,
              adapt: StepSizeAdapter | None = None, thin: int = 1, keep_trace: bool = True,
              progress: str | None = None) -> tuple[Any, Tensor | None, ChainInfo]:
    """Run ``warmup`` steps (adapting the step size if ``adapt`` is given), then ``n_steps`` kept
    steps with the step size frozen. Nothing is read on the host.

    Args:
        kernel: a latent kernel (Langevin, MALA, HMC) or ALD.
        state: the starting state, from ``kernel.init`` (its ``z`` is [B, ...]).
        energy_fn: ``z [B, ...] -> U [B]``.
        n_steps: steps after warm-up (total steps = warmup + n_steps).
        generator: the only source of randomness (``None``: torch's global stream, explicitly).
        warmup: steps whose samples are discarded; adaptation happens only here.
        adapt: step-size adapter, or None for a fixed step size.
        thin: keep every ``thin``-th post-warm-up state.
        keep_trace: record ``state.z``; False returns None (memory).
        progress: a label for a progress bar over the steps (shown on a terminal only).

    Returns:
        ``(final_state, trace [n_steps // thin, B, ...] or None, info)``, info a
        :class:`ChainInfo` (its per-step fields [0, B] when ``n_steps`` is 0).
    """
    if thin < 1:
        raise ValueError(f"thin must be >= 1, got {thin}")
    if adapt is not None:
        log_eta = adapt.init(kernel.step_size, state.z.shape[0], dtype=state.z.dtype)
    bar = tqdm(total=warmup + n_steps, desc=progress, unit="step", leave=False,
               dynamic_ncols=True, disable=None if progress else True)
    for t in range(warmup):
        k = kernel if adapt is None else kernel.with_step_size(log_eta.exp())
        state, info = k.step(state, energy_fn, generator)
        if adapt is not None:
            log_eta = adapt.update(log_eta, info.acceptance, t)
        bar.update()
    if adapt is not None:
        kernel = kernel.with_step_size(log_eta.exp())
    trace: list[Tensor] = []
    infos: list[Info] = []
    for t in range(n_steps):
        state, info = kernel.step(state, energy_fn, generator)
        infos.append(info)
        if keep_trace and (t + 1) % thin == 0:
            trace.append(state.z)
        bar.update()
    bar.close()
    step_size = torch.as_tensor(kernel.step_size, dtype=state.z.dtype, device=state.z.device)
    if infos:
        stacked = ChainInfo(*(torch.stack(field) for field in zip(*infos)), step_size)
    else:
        empty = state.z.new_zeros((0, state.z.shape[0]))
        stacked = ChainInfo(empty, empty, empty, empty, step_size)
    return state, (torch.stack(trace) if keep_trace and trace else None), stacked
