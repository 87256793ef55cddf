"""Counts of what one training step does, independent of the machine's speed.

:func:`profile_steps` runs a few training steps (``training_step`` plus the trainer's optimiser
update) under ``torch.profiler`` and counts, per step:

- ``aten_ops_per_step``: top-level aten operators dispatched (an operator called by another aten
  operator is not counted again), which on a GPU is about the number of kernel launches;
- ``matmuls_per_step``: of those, matrix products (``mm``, ``addmm``, ``bmm``, ``matmul``,
  ``linear``, ``einsum`` and their backward counterparts, counted at any depth once each);
- ``matmul_flops_per_step``: the floating-point operations of those matrix products (2·m·n·k
  each, from the profiler's ``with_flops``), the step's arithmetic in a figure that does not
  depend on the machine: on a CPU, where a step of these models is bound by arithmetic, the
  ratio of two models' step times is close to the ratio of their FLOPs (convolutions are not
  counted: the profiler gives no FLOPs for their backward);
- ``aten_ops_all_depths_per_step``: every aten operator at any depth (the count the issue that
  asked for these figures used: an ``item`` and the ``_local_scalar_dense`` inside it are two);
- ``host_syncs_per_step``: reads of a tensor's value on the host (``aten::item``,
  ``aten::is_nonzero``, or ``aten::_local_scalar_dense`` not under either), each of which waits
  for the device to finish everything queued before it. Reads inside the CPU implementation of
  torch's fused optimisers (``_fused_adam_``, ``_fused_sgd_``: the CPU kernel reads its step
  counter, a CPU tensor) are not counted: their CUDA kernels take the counter on the device.

With ``memory=True`` the profiler also records every allocation and free of the CPU allocator
(``profile_memory``), and the counts carry, per step:

- ``cpu_peak_bytes_above_step_start``: the most bytes of CPU tensors live at once during a step
  beyond those live when it began (activations, gradients, temporaries; not the parameters or the
  optimiser's state, which were allocated before), the median over the profiled steps after the
  first (a block allocated before profiling started is freed without its size being known, which
  would overstate the first step's peak);
- ``cpu_alloc_bytes_per_step``: bytes requested from the CPU allocator per step (the sum of all
  allocations, freed or not: allocator traffic, not a peak).

On a GPU the step's device memory is measured by :func:`cuda_peak_bytes` instead.

Example::

    >>> import torch
    >>> w = torch.randn(64, 64, requires_grad=True)
    >>> counts = profile_steps(lambda: (torch.randn(32, 64) @ w).sum().backward(), 2, 1)
    >>> counts.matmuls_per_step >= 2, counts.host_syncs_per_step
    (True, 0.0)
    >>> counts.matmul_flops_per_step  # forward 2*32*64*64 FLOPs, and w's gradient as many
    524288.0
"""

from __future__ import annotations

import dataclasses
import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch
from torch.profiler import ProfilerActivity, profile, record_function

MATMULS = {"aten::mm", "aten::addmm", "aten::bmm", "aten::baddbmm", "aten::addbmm",
           "aten::_addmm_activation", "aten::addmv", "aten::mv", "aten::dot"}
SYNCS = {"aten::item", "aten::is_nonzero"}
SYNC_LEAF = "aten::_local_scalar_dense"
# fused optimiser kernels whose CPU implementation reads a CPU scalar, their CUDA one nothing
SYNC_FREE_ON_DEVICE = {"aten::_fused_adam_", "aten::_fused_adamw_", "aten::_fused_sgd_"}
STEP_LABEL = "lae.bench.step"  # the record_function range around each profiled step
MEMORY_EVENT = "[memory]"  # the name of the profiler's allocation and free records


@dataclass(frozen=True)
class StepCounts:
    """Per-step counts from :func:`profile_steps` (means over the profiled steps)."""

    aten_ops_per_step: float
    matmuls_per_step: float
    host_syncs_per_step: float
    aten_ops_all_depths_per_step: float = 0.0
    matmul_flops_per_step: float = 0.0
    # with profile_steps(memory=True) only (None otherwise); see the module docstring
    cpu_peak_bytes_above_step_start: float | None = None
    cpu_alloc_bytes_per_step: float | None = None

    def as_dict(self) -> dict[str, float | None]:
        return {"aten_ops_per_step": self.aten_ops_per_step,
                "aten_ops_all_depths_per_step": self.aten_ops_all_depths_per_step,
                "matmuls_per_step": self.matmuls_per_step,
                "matmul_flops_per_step": self.matmul_flops_per_step,
                "host_syncs_per_step": self.host_syncs_per_step,
                "cpu_peak_bytes_above_step_start": self.cpu_peak_bytes_above_step_start,
                "cpu_alloc_bytes_per_step": self.cpu_alloc_bytes_per_step}


def count_events(events: Iterable, n_steps: int) -> StepCounts:
    """Count a profiler's events (``prof.events()``) per step; see the module docstring."""
    events = [e for e in events if e.name.startswith("aten::")]

    def under(e, names: set[str] | None = None) -> bool:
        p = e.cpu_parent
        while p is not None:
            if p.name.startswith("aten::") and (names is None or p.name in names):
                return True
            p = p.cpu_parent
        return False

    top = [e for e in events if not under(e)]
    matmuls = [e for e in events if e.name in MATMULS and not under(e, MATMULS)]
    syncs = [e for e in events if (e.name in SYNCS or e.name == SYNC_LEAF)
             and not under(e, SYNCS) and not under(e, SYNC_FREE_ON_DEVICE)]
    flops = sum(e.flops or 0 for e in matmuls)  # 0 unless profiled with_flops
    return StepCounts(len(top) / n_steps, len(matmuls) / n_steps, len(syncs) / n_steps,
                      len(events) / n_steps, flops / n_steps)


def cpu_memory_per_step(records: Iterable) -> tuple[float, float]:
    """``(cpu_peak_bytes_above_step_start, cpu_alloc_bytes_per_step)`` from the profiler's raw
    records (``prof.profiler.kineto_results.events()`` of a profile taken with
    ``profile_memory=True``): the steps are the ``record_function(STEP_LABEL)`` ranges, the
    allocations and frees the ``[memory]`` records in time order (see the module docstring; the
    peak is the median over the steps after the first)."""
    records = list(records)
    steps = sorted((r.start_ns(), r.end_ns()) for r in records if r.name() == STEP_LABEL)
    if not steps:
        raise ValueError(f"no {STEP_LABEL!r} ranges among the profiler's records")
    cpu = torch.autograd.DeviceType.CPU
    memory = sorted((r.start_ns(), r.nbytes()) for r in records
                    if r.name() == MEMORY_EVENT and r.device_type() == cpu)
    peaks, allocated = [], []
    live, i = 0, 0  # bytes allocated minus freed since profiling began; next memory record
    for start, end in steps:
        while i < len(memory) and memory[i][0] < start:
            live += memory[i][1]
            i += 1
        at_start, peak, total = live, live, 0
        while i < len(memory) and memory[i][0] <= end:
            live += memory[i][1]
            peak = max(peak, live)
            total += max(memory[i][1], 0)
            i += 1
        peaks.append(peak - at_start)
        allocated.append(total)
    kept = peaks[1:] or peaks
    return float(statistics.median(kept)), sum(allocated) / len(allocated)


def profile_steps(step: Callable[[], None], n_steps: int = 5, warmup: int = 3, *,
                  memory: bool = False) -> StepCounts:
    """Run ``step`` ``warmup`` times, then ``n_steps`` times under ``torch.profiler`` (CPU
    activity: operators are counted where they are dispatched, whatever the device). With
    ``memory`` the CPU allocator's traffic is recorded too (slower; the operator counts are the
    same)."""
    for _ in range(warmup):
        step()
    with profile(activities=[ProfilerActivity.CPU], profile_memory=memory,
                 with_flops=True) as prof:
        for _ in range(n_steps):
            with record_function(STEP_LABEL):
                step()
    counts = count_events(prof.events(), n_steps)
    if not memory:
        return counts
    peak, allocated = cpu_memory_per_step(prof.profiler.kineto_results.events())
    return dataclasses.replace(counts, cpu_peak_bytes_above_step_start=peak,
                               cpu_alloc_bytes_per_step=allocated)


def cuda_peak_bytes(step: Callable[[], None], n_steps: int,
                    device: torch.device) -> dict[str, int]:
    """Device memory of ``n_steps`` calls of ``step`` on the CUDA ``device``, from the caching
    allocator's statistics: ``cuda_peak_allocated_bytes`` (the most bytes of tensors allocated at
    once, parameters and optimiser state included) and ``cuda_peak_bytes_above_step_start`` (the
    same less what was allocated before the first step)."""
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    at_start = torch.cuda.memory_allocated(device)
    for _ in range(n_steps):
        step()
    torch.cuda.synchronize(device)
    peak = torch.cuda.max_memory_allocated(device)
    return {"cuda_peak_allocated_bytes": int(peak),
            "cuda_peak_bytes_above_step_start": int(peak - at_start)}
