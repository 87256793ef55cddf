"""Seconds per training step of several models, measured interleaved in one process.

The models take turns round by round (every model runs ``steps_per_round`` steps, then the next
model, and so on, ``rounds`` times), so that a change in the machine's background load during
the measurement affects them alike; the figure per model is the median over rounds, and the
ratio to a baseline model (the VAE) is what compares across machines.

Example:
    >>> import torch
    >>> a, b = torch.randn(64, 64), torch.randn(128, 128)
    >>> times = interleaved_seconds_per_step({"small": lambda: a @ a, "big": lambda: b @ b},
    ...                                      steps_per_round=2, rounds=2, warmup=1)
    >>> [len(t) for t in times.values()]
    [2, 2]
    >>> sorted(speed_summary(times, "small"))
    ['seconds_per_step_median', 'seconds_per_step_per_round', 'time_ratio_to_small']
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping

import torch


def synchronizer(device: torch.device) -> Callable[[], None]:
    """A function that waits for ``device`` to finish its queued work (nothing on a CPU), called
    before each clock reading so that a GPU's asynchronous steps are timed whole."""
    if device.type == "cuda":
        return lambda: torch.cuda.synchronize(device)
    if device.type == "mps":
        return torch.mps.synchronize
    return lambda: None


def interleaved_seconds_per_step(steps: Mapping[str, Callable[[], object]], *,
                                 steps_per_round: int, rounds: int, warmup: int = 3,
                                 synchronize: Callable[[], None] = lambda: None
                                 ) -> dict[str, list[float]]:
    """Time each step function, the models taking turns round by round.

    Args:
        steps: label -> one training step (it may return anything; nothing is read back).
        steps_per_round: timed steps per model per round.
        rounds: rounds of turns.
        warmup: untimed steps per model before the first round.
        synchronize: waits for the device (:func:`synchronizer`).

    Returns:
        label -> seconds per step in each round [rounds].
    """
    if steps_per_round < 1 or rounds < 1:
        raise ValueError(f"steps_per_round and rounds must be >= 1, got {steps_per_round}, "
                         f"{rounds}")
    for step in steps.values():
        for _ in range(warmup):
            step()
    synchronize()
    seconds: dict[str, list[float]] = {label: [] for label in steps}
    for _ in range(rounds):
        for label, step in steps.items():
            start = time.perf_counter()
            for _ in range(steps_per_round):
                step()
            synchronize()
            seconds[label].append((time.perf_counter() - start) / steps_per_round)
    return seconds


def speed_summary(seconds: Mapping[str, list[float]], baseline: str) -> dict[str, dict]:
    """Medians over rounds (seconds per step) and their ratios to ``baseline``'s median, from
    :func:`interleaved_seconds_per_step`'s result."""
    medians = {label: statistics.median(s) for label, s in seconds.items()}
    return {"seconds_per_step_median": medians,
            f"time_ratio_to_{baseline}": {label: m / medians[baseline]
                                          for label, m in medians.items()},
            "seconds_per_step_per_round": {label: list(s) for label, s in seconds.items()}}
