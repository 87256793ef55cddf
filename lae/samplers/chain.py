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
    >>> state, trace, info = run_chain(MALA(0.1), torch.zeros(8, 2), energy_fn, 20, warmup=30,
    ...                                adapt=StepSizeAdapter(0.574), thin=2,
    ...                                generator=torch.Generator().manual_seed(0))
    >>> trace.shape, info["acceptance"].shape, info["step_size"].shape
    (torch.Size([10, 8, 2]), torch.Size([20, 8]), torch.Size([8]))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import torch
from torch import Tensor

from lae.samplers.base import EnergyFn, StepSize


class Kernel(Protocol):
    """What run_chain needs: the latent-kernel interface (ALD via ``ALD.bind(features)``)."""

    step_size: StepSize

    def init(self, z: Tensor, energy_fn: EnergyFn) -> Any: ...

    def step(self, state: Any, energy_fn: EnergyFn,
             generator: torch.Generator | None = None) -> tuple[Any, dict[str, Tensor]]: ...

    def with_step_size(self, step_size: StepSize) -> Kernel: ...


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
    """

    target_acceptance: float
    per_chain: bool = True
    gain: float = 1.0
    decay: float = 0.6

    def __post_init__(self) -> None:
        if not 0 < self.target_acceptance < 1:
            raise ValueError(f"target_acceptance must be in (0, 1), got {self.target_acceptance}")

    def init(self, step_size: StepSize, n_chains: int, dtype: torch.dtype = torch.float32
             ) -> Tensor:
        """Initial log step size: [n_chains] if per_chain, else a 0-d tensor."""
        log_eta = torch.as_tensor(step_size, dtype=dtype).log()
        if self.per_chain:
            return log_eta.expand(n_chains).clone()
        return log_eta.mean() if log_eta.ndim else log_eta

    def update(self, log_step_size: Tensor, acceptance: Tensor, t: int) -> Tensor:
        """One Robbins–Monro update at warm-up step t (0-based) from acceptance [B]."""
        a = acceptance.detach().to(log_step_size.dtype)
        if not self.per_chain:
            a = a.mean()
        return log_step_size + self.gain * (t + 1) ** (-self.decay) * (a - self.target_acceptance)


def run_chain(kernel: Kernel, z0: Tensor, energy_fn: EnergyFn, n_steps: int, *, warmup: int = 0,
              adapt: StepSizeAdapter | None = None, thin: int = 1, keep_trace: bool = True,
              generator: torch.Generator | None = None
              ) -> tuple[Any, Tensor | None, dict[str, Tensor]]:
    """Run ``warmup`` steps (adapting the step size if ``adapt`` is given), then ``n_steps`` kept
    steps with the step size frozen.

    Args:
        kernel: a latent kernel (Langevin, MALA, HMC) or ``ALD.bind(features)``.
        z0: starting point ([B, ...]; Phi [d_z, d] for bound ALD).
        energy_fn: ``z [B, ...] -> U [B]``.
        n_steps: steps after warm-up (total steps = warmup + n_steps).
        warmup: steps whose samples are discarded; adaptation happens only here.
        adapt: step-size adapter, or None for a fixed step size.
        thin: keep every ``thin``-th post-warm-up state.
        keep_trace: record ``state.z``; False returns None (memory).
        generator: the only source of randomness.

    Returns:
        ``(final_state, trace [n_steps // thin, B, ...] or None, info)`` where info holds each
        diagnostic stacked over the post-warm-up steps, [n_steps, B], plus ``step_size``, the
        step size used after warm-up.
    """
    if thin < 1:
        raise ValueError(f"thin must be >= 1, got {thin}")
    state = kernel.init(z0, energy_fn)
    if adapt is not None:
        log_eta = adapt.init(kernel.step_size, state.z.shape[0], dtype=state.z.dtype)
    for t in range(warmup):
        k = kernel if adapt is None else kernel.with_step_size(log_eta.exp())
        state, info = k.step(state, energy_fn, generator)
        if adapt is not None:
            log_eta = adapt.update(log_eta, info["acceptance"], t)
    if adapt is not None:
        kernel = kernel.with_step_size(log_eta.exp())
    trace: list[Tensor] = []
    infos: list[dict[str, Tensor]] = []
    for t in range(n_steps):
        state, info = kernel.step(state, energy_fn, generator)
        infos.append(info)
        if keep_trace and (t + 1) % thin == 0:
            trace.append(state.z)
    stacked = {key: torch.stack([i[key] for i in infos]) for key in infos[0]} if infos else {}
    stacked["step_size"] = torch.as_tensor(kernel.step_size, dtype=state.z.dtype)
    return state, (torch.stack(trace) if keep_trace and trace else None), stacked
