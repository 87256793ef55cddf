"""Quality against wall-clock: train for equal time budgets, score each model the same way.

:func:`train_for_budgets` loops the trainer's ``train_step`` over its loader (epoch after epoch)
and stops at each budget of training seconds in turn; the clock runs only while a batch is drawn
and a step runs (the trainer's per-epoch scoring, sample grids, checkpoints and logging are not
done, and the clock is paused while the caller scores the model at a budget). The last step
before a budget ends is finished, so the seconds reached slightly exceed the budget; both are
recorded. :func:`quality_curve` scores the model at each budget with ``nll-ais`` on the same
test images and AIS settings for every model.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from torch import Tensor

from lae.bench.throughput import timed_nll_ais
from lae.eval.metrics import EvalSettings
from lae.train import Trainer


@dataclass(frozen=True)
class BudgetReached:
    """Where training stood when a budget of training seconds was spent."""

    budget_seconds: float  # the budget asked for
    seconds: float  # training seconds actually spent (the last step is finished)
    steps: int  # optimiser steps taken
    epochs: float  # steps / batches per epoch (passes over the training split)


def train_for_budgets(trainer: Trainer, budgets_seconds: Sequence[float],
                      synchronize: Callable[[], None] = lambda: None
                      ) -> Iterator[BudgetReached]:
    """Train ``trainer``'s model until each budget (seconds, ascending) is spent, yielding a
    :class:`BudgetReached` at each; the clock is paused between yields. ``synchronize`` waits
    for the device after every step, so that a GPU's queued steps count where they run."""
    budgets = list(budgets_seconds)
    if budgets != sorted(budgets) or not budgets or budgets[0] <= 0:
        raise ValueError(f"budgets must be positive and ascending, got {budgets}")
    batches_per_epoch = len(trainer.loader)
    trainer.model.train()
    spent, steps = 0.0, 0
    batches = iter(trainer.loader)
    for budget in budgets:
        while spent < budget:
            start = time.perf_counter()
            try:
                x, index = next(batches)
            except StopIteration:  # the next epoch: a new permutation
                batches = iter(trainer.loader)
                x, index = next(batches)
            trainer.train_step(x, index)
            synchronize()
            spent += time.perf_counter() - start
            steps += 1
        yield BudgetReached(budget, spent, steps, steps / batches_per_epoch)


def quality_curve(trainer: Trainer, budgets_seconds: Sequence[float], x_test: Tensor,
                  settings: EvalSettings, synchronize: Callable[[], None] = lambda: None,
                  report: Callable[[dict[str, Any]], None] = lambda record: None
                  ) -> list[dict[str, Any]]:
    """Train for each budget in turn and score the model there with ``nll-ais`` on x_test
    [N, *shape] (the same images, settings and seed for every model); one record per budget:
    :class:`BudgetReached`'s fields with the NLL in bits/dim and nats, standard errors over the
    images, and the AIS wall time. ``report`` sees each record as it is made."""
    records = []
    for reached in train_for_budgets(trainer, budgets_seconds, synchronize):
        record = asdict(reached) | timed_nll_ais(trainer.model, x_test, settings, synchronize)
        report(record)
        records.append(record)
    return records
