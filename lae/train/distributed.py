"""Training on several processes with torch.distributed: who this process is, and the few
collectives the trainer needs.

A run on N processes (``torchrun --nproc_per_node=N -m lae.cli train ...``, or
``lae train --nproc N``, which starts them here) trains one model:

- **data**: every process holds the whole training set and draws the same permutation each
  epoch; global batch b is rows ``[b N B, (b + 1) N B)`` of it and process r takes its r-th
  slice of B rows (``train.batch_size`` is per process; the global batch is N B). A one-process
  run with batch N B sees the same batches in the same order.
- **parameters**: each process differentiates the losses of its own B examples; the gradients
  (and the floating-point buffers a model adapts as it trains, e.g. step sizes and
  normalisation statistics) are averaged over the processes in one all-reduce per step, so every
  process takes the same optimiser step (what DDP does, for parameter groups the trainer steps
  with ``torch.autograd.grad``).
- **chains**: a chain over one state shared by the batch (the LAE's ALD chain on Phi) is one
  chain over the global batch: its energy sums and gradients are all-reduced as sums and its
  noise comes from a generator seeded alike everywhere. Per-example randomness (a VAE's
  samples, per-point MALA, persistent per-example chains) comes from a generator seeded per
  process; per-example chain buffers are merged at the end of each epoch (each row was moved by
  the one process that drew it).
- **files**: only process 0 logs, evaluates, draws pictures and writes checkpoints.

Launching on several machines: ``torchrun --nnodes=M --nproc_per_node=N
--rdzv_backend=c10d --rdzv_endpoint=HOST:PORT -m lae.cli train ...`` on each machine
(docs/distributed.md).
"""

from __future__ import annotations

import os
import signal
import socket
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import torch
import torch.distributed as dist
from torch import Tensor

from lae.errors import ERROR_FILE_ENV, ConfigError

# how long a process waits at a collective (e.g. for process 0's end-of-epoch evaluation)
COLLECTIVE_TIMEOUT = timedelta(hours=6)


@dataclass(frozen=True)
class Processes:
    """Where this process stands among the run's processes.

    Attributes:
        rank: this process's index, 0 .. world_size - 1 (0 writes every file).
        world_size: the number of processes training the model.
        local_rank: the index among the processes on this machine (picks the GPU).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


SINGLE = Processes()


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name)
    if value is None:
        return default
    try:
        return int(value)
    except ValueError:
        raise ConfigError(f"environment variable {name}={value!r}: expected an integer (set by "
                          "torchrun or lae train --nproc)") from None


def processes_from_env() -> Processes:
    """The processes torchrun (or ``lae train --nproc``) describes in RANK, WORLD_SIZE and
    LOCAL_RANK; one process when WORLD_SIZE is unset or 1."""
    world = _env_int("WORLD_SIZE", 1)
    rank, local = _env_int("RANK", 0), _env_int("LOCAL_RANK", 0)
    if world < 1 or not 0 <= rank < world:
        raise ConfigError(f"environment: RANK={rank} and WORLD_SIZE={world} do not describe a "
                          "process of a run (expected 0 <= RANK < WORLD_SIZE)")
    return Processes(rank, world, local)


def init_processes(procs: Processes, device: torch.device) -> None:
    """Join the process group (gloo on the CPU, nccl on CUDA) when there are several
    processes and it is not joined yet; its address comes from MASTER_ADDR / MASTER_PORT."""
    if not procs.distributed or dist.is_initialized():
        return
    if not dist.is_available():
        raise ConfigError("several processes were asked for but this torch has no "
                          "torch.distributed")
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend, rank=procs.rank, world_size=procs.world_size,
                            timeout=COLLECTIVE_TIMEOUT)


def close_processes() -> None:
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def all_reduce_mean_(tensors: list[Tensor]) -> None:
    """Replace each tensor by its mean over the processes, in place: one all-reduce of the
    concatenation of the floating-point tensors of each dtype and device."""
    groups: dict[tuple[torch.dtype, torch.device], list[Tensor]] = {}
    for t in tensors:
        groups.setdefault((t.dtype, t.device), []).append(t)
    for group in groups.values():
        flat = torch.cat([t.reshape(-1) for t in group])
        dist.all_reduce(flat, op=dist.ReduceOp.SUM)
        flat /= dist.get_world_size()
        torch._foreach_copy_(group, [part.view_as(t) for part, t in
                                     zip(flat.split([t.numel() for t in group]), group)])


def broadcast_(tensors: list[Tensor], src: int = 0) -> None:
    """Give every process process ``src``'s values of ``tensors`` (in place)."""
    with torch.no_grad():
        for t in tensors:
            dist.broadcast(t, src)


def merge_rows_(buffer: Tensor, mine: Tensor) -> None:
    """Merge a per-example buffer [N, ...] whose rows each process updated for its own rows:
    where ``mine`` [N] (bool) marks rows this process updated since the last merge, every process
    gets that process's values; rows no process updated keep their value. Each row must have been
    updated by at most one process."""
    mask = mine.reshape(-1, *([1] * (buffer.dim() - 1))).to(buffer.dtype)
    packed = torch.cat([(buffer * mask).reshape(-1), mine.to(buffer.dtype)])
    dist.all_reduce(packed, op=dist.ReduceOp.SUM)
    values, owners = packed[:buffer.numel()].view_as(buffer), packed[buffer.numel():]
    updated = (owners > 0).reshape(mask.shape)
    buffer.copy_(torch.where(updated, values, buffer))


def all_gather_rows(values: Tensor) -> Tensor:
    """The [n] vectors of every process stacked, [world_size, n]."""
    parts = [torch.empty_like(values) for _ in range(dist.get_world_size())]
    dist.all_gather(parts, values)
    return torch.stack(parts)


def gather_objects(obj: Any) -> list[Any]:
    """Every process's ``obj`` (picklable), in rank order, on every process."""
    out: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(out, obj)
    return out


def barrier() -> None:
    dist.barrier()


def free_port() -> int:
    """A TCP port free on 127.0.0.1 now (for a local run's rendezvous)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]




# what a process reports when a collective failed because another process died
LOST_CONTACT = "lost contact with the other processes"


def error_file(report_dir: str | Path, rank: int) -> Path:
    """Where process ``rank`` of :func:`run_local_processes` leaves its error line."""
    return Path(report_dir) / f"rank{rank}.txt"


def _stop_with_launcher(launcher: int) -> None:
    """Linux: have the kernel send this process SIGTERM when its launcher dies. A launcher killed
    by SIGKILL (nothing can catch it) left its processes training to the last epoch, holding the
    run's lock; SIGTERM makes each stop as a Ctrl-C does. Elsewhere: nothing."""
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != launcher:  # it died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _local_process(local_rank: int, nproc: int, port: int, fn: Callable[..., int],
                   args: tuple, report_dir: str | None = None,
                   launcher: int | None = None) -> None:
    if launcher is not None:
        _stop_with_launcher(launcher)
    os.environ.update(RANK=str(local_rank), LOCAL_RANK=str(local_rank),
                      WORLD_SIZE=str(nproc), LOCAL_WORLD_SIZE=str(nproc),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    if report_dir is not None:
        os.environ[ERROR_FILE_ENV] = str(error_file(report_dir, local_rank))
    try:
        code = fn(*args)
    except RuntimeError as exc:
        # A collective failed on a process that did nothing wrong: another process died (a
        # signal, the kernel's OOM killer) and the connection broke (gloo raises a plain
        # RuntimeError from its transport, NCCL a DistError). Said once, by the launcher, which
        # names the process that died (error_file stays empty for it).
        broken = isinstance(exc, dist.DistError) or "gloo/transport" in str(exc)
        if report_dir is None or not broken:
            raise
        error_file(report_dir, local_rank).write_text(f"{LOST_CONTACT}\n")
        code = 3
    if code:  # the process printed its error; its exit status stops the others
        # os._exit, not SystemExit: the interpreter's teardown can run the destructors of the
        # process group's threads while the other process is being stopped, and they abort
        # ("terminate called without an active exception", SIGABRT), which hides the status.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def run_local_processes(fn: Callable[..., int], nproc: int, *args: Any,
                        report_dir: str | None = None) -> None:
    """Run ``fn(*args)`` in ``nproc`` new processes on this machine, each with the environment
    torchrun would give it (RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR, MASTER_PORT). When one
    fails, the others are stopped and its error is raised here
    (``torch.multiprocessing.ProcessRaisedException`` or ``ProcessExitedException``). With
    ``report_dir``, each process finds in ``$LAE_ERROR_FILE`` where to leave its error line
    (:func:`error_file`)."""
    import logging

    import torch.multiprocessing as mp

    # torch's own "Terminating process N via signal SIGTERM" for the processes it stops once one
    # has failed: the launcher says what failed
    logging.getLogger("torch.multiprocessing.spawn").setLevel(logging.ERROR)
    # nor the resource tracker's "leaked semaphore objects" at exit, which a process killed by a
    # signal always leaves (the tracker is a process of its own: it reads the environment)
    warn = os.environ.get("PYTHONWARNINGS")
    os.environ["PYTHONWARNINGS"] = ",".join(
        filter(None, [warn, "ignore:resource_tracker:UserWarning"]))
    context = mp.start_processes(_local_process,
                                 args=(nproc, free_port(), fn, args, report_dir, os.getpid()),
                                 nprocs=nproc, join=False, start_method="spawn")
    try:
        while not context.join():
            pass
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM of the launcher: stop the processes too
        # (they were left training, the launcher waiting on them at exit)
        for process in context.processes:
            if process.is_alive():
                process.terminate()
        for process in context.processes:
            process.join(30)
            if process.is_alive():
                process.kill()
        raise


def all_reduce_sum(t: Tensor) -> Tensor:
    """``t`` summed over the processes of torch.distributed's default group (a new tensor):
    the ``reduce`` of an ALD chain shared by every process."""
    out = t.clone()
    dist.all_reduce(out, op=dist.ReduceOp.SUM)
    return out
