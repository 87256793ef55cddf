"""The trainer's guards: divergence (decided by error types and the model's state, reported with
its likely causes in ``diagnostics.json``) and stalled chains (from the chains a model reports
in each step's :class:`~lae.models.base.StepOutput`). Nothing here reads a model's config: what
a model's own settings may have to do with a fault, it says itself (``divergence_causes``,
``stall_hint``)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import torch

from lae.errors import LaeError
from lae.models import LatentModel
from lae.samplers import ChainReport
from lae.train.config import TrainConfig

DIAGNOSTICS = "diagnostics.json"
STEP_COLLAPSE = 1e-4  # a step size below this fraction of its largest value so far has collapsed
STALL_ACTIONS = ("error", "warn")


class TrainingDiverged(LaeError):
    """A loss, energy, gradient or metric became NaN or infinite (or a step failed on such
    values); ``diagnostics.json`` in the run folder says where and what was likely the cause."""


class ChainStalled(LaeError):
    """A Markov chain stopped moving: its acceptance stayed near 0, or its step size collapsed."""


def looks_diverged(model: torch.nn.Module, exc: Exception) -> bool:
    """Divergence, decided by the error's type and the model's state, never by its text: a
    factorisation that failed (``LinAlgError``), or any other error raised while a parameter or
    a floating-point buffer (a chain's state, a step size) is not finite."""
    if isinstance(exc, torch.linalg.LinAlgError):
        return True
    state = [*model.parameters(), *(b for b in model.buffers() if b.is_floating_point())]
    return not all(bool(torch.isfinite(t).all()) for t in state)


def non_finite_losses(flags: dict[tuple[str, ...], list[bool]]) -> list[str]:
    """What the trainer's device-side flags caught: for each step's loss names, flags
    [loss_1, gradient_1, loss_2, ...] (True: not finite) -> ["loss 'x'", "gradient of loss 'y'"]."""
    problems = []
    for names, bad in flags.items():
        for i, name in enumerate(names):
            if bad[2 * i]:
                problems.append(f"loss {name!r}")
            elif bad[2 * i + 1]:
                problems.append(f"gradient of loss {name!r}")
    return problems


def non_finite_keys(record: dict[str, Any]) -> list[str]:
    """The keys of a logged record whose float value is NaN or infinite."""
    return [k for k, v in record.items() if isinstance(v, float) and not math.isfinite(v)]


def divergence_report(model: LatentModel, tc: TrainConfig, *, what: str, epoch: int, step: int,
                      x: torch.Tensor | None, last_checkpoint: Path, last_train_record: Any,
                      diagnostics_path: Path | None) -> TrainingDiverged:
    """Build the divergence error at training step ``step``: what went wrong, where, the likely
    causes (the trainer's: learning rate and data; the model's: its
    ``divergence_causes()``), most likely first, and the last good checkpoint. The same,
    with the largest parameter norms, goes to ``diagnostics_path`` (None: not written, as on
    processes other than the first)."""
    norms = {n: float(p.detach().norm()) for n, p in model.named_parameters()}
    bad_params = sorted(n for n, v in norms.items() if not math.isfinite(v))
    # (score, cause): the evidence for each decides the order; ties keep lr, model, data.
    causes: list[tuple[int, str]] = []
    big_lr = tc.lr > (1e-2 if tc.optimizer == "adam" else 1.0)
    causes.append((2 * bool(bad_params) + big_lr,
                   f"the learning rate train.lr={tc.lr:g} ({tc.optimizer}"
                   + (f", grad_clip {tc.grad_clip:g}" if tc.grad_clip > 0 else
                      ", no gradient clipping") + "): try a smaller train.lr or "
                   "train.grad_clip=1"))
    causes += model.divergence_causes()
    seen = None
    if x is not None and x.numel():
        finite_x = x[torch.isfinite(x)]
        seen = [float(finite_x.min()), float(finite_x.max())] if finite_x.numel() else None
    lo, hi = model.spec.value_range
    likelihood = type(model.likelihood).__name__
    outside = seen is not None and (seen[0] < lo or seen[1] > hi)
    causes.append((4 * outside, f"the data against the likelihood: {likelihood} on data "
                   f"declared in [{lo:g}, {hi:g}]"
                   + (f", this batch spans [{seen[0]:g}, {seen[1]:g}]" if seen else "")
                   + (" (outside the declared range: check data.scale)" if outside else "")))
    ranked = [c for _, c in sorted(causes, key=lambda sc: -sc[0])]
    kept = last_checkpoint.is_file()
    diagnostics = {
        "problem": what, "epoch": epoch, "step": step,
        "likely_causes": ranked,
        "non_finite_parameters": bad_params,
        "largest_parameter_norms": dict(sorted(norms.items(), key=lambda kv: -kv[1]
                                               if math.isfinite(kv[1]) else -math.inf)[:5]),
        "settings": {"train.lr": tc.lr, "train.optimizer": tc.optimizer,
                     "train.grad_clip": tc.grad_clip, "model.name": model.cfg.name,
                     "likelihood": likelihood, "data.value_range": [lo, hi],
                     "batch_range": seen},
        "last_train_record": last_train_record,
        "last_good_checkpoint": str(last_checkpoint) if kept else None,
    }
    keep = (f"the last good checkpoint {last_checkpoint} is kept" if kept else
            "no checkpoint was written yet")
    if diagnostics_path is not None:
        diagnostics_path.write_text(json.dumps(diagnostics, indent=2, default=str) + "\n")
        keep = f"Details in {diagnostics_path}; {keep}"
    return TrainingDiverged(
        f"training diverged at step {step} (epoch {epoch}): {what}. Likely causes, most likely "
        f"first: {'; '.join(ranked)}. {keep[0].upper()}{keep[1:]}.")


class ChainWatch:
    """Watches the chains a model reports (:class:`~lae.samplers.ChainReport`, by log prefix) on
    logged records: counts the steps each chain's acceptance has stayed below
    ``train.stall_acceptance``, and keeps each moving step size's largest value, to catch a
    collapse (below ``STEP_COLLAPSE`` of it). Past ``train.stall_steps`` a chain has stalled.
    Its counts go into checkpoints (:meth:`state_dict`), keyed by the logged metric's name."""

    def __init__(self, tc: TrainConfig) -> None:
        self.stall_steps, self.stall_acceptance = tc.stall_steps, tc.stall_acceptance
        self.stalled_steps: dict[str, int] = {}
        self.stalled_run: dict[str, int] = {}
        self.max_step_size: dict[str, float] = {}

    def problems(self, record: dict[str, float], chains: dict[str, ChainReport],
                 n_steps: int) -> list[str]:
        """What has stalled, given the record of the last ``n_steps`` steps (their means) and
        the chains the last step reported; [] when nothing has, or the watch is off
        (``train.stall_steps=0``)."""
        if self.stall_steps == 0:
            return []
        found = []
        for prefix, chain in chains.items():
            key = f"{prefix}acceptance"
            if chain.acceptance is not None and key in record:
                value = record[key]
                low = value < self.stall_acceptance
                self.stalled_steps[key] = self.stalled_steps.get(key, 0) + n_steps if low else 0
                # the whole stretch, which a warning does not restart (the count above it does)
                self.stalled_run[key] = self.stalled_run.get(key, 0) + n_steps if low else 0
                if self.stalled_steps[key] >= self.stall_steps:
                    found.append(f"{key} stayed below {self.stall_acceptance:g} for "
                                 f"{self.stalled_run[key]} steps (now {value:.3g}; the step "
                                 f"size is {chain.rule})")
            key = f"{prefix}step_size"
            if chain.rule != "fixed" and record.get(key, 0.0) > 0:  # only a moving step falls
                value = record[key]
                top = self.max_step_size[key] = max(self.max_step_size.get(key, 0.0), value)
                if value < STEP_COLLAPSE * top:
                    found.append(f"{key} collapsed to {value:.3g}, below {STEP_COLLAPSE:g} of "
                                 f"its largest value {top:.3g} (the step size is {chain.rule})")
        return found

    def restart_counts(self) -> None:
        """Count afresh after a warning: one warning per ``train.stall_steps`` steps."""
        for key in self.stalled_steps:
            self.stalled_steps[key] = 0

    def state_dict(self) -> dict[str, dict[str, float]]:
        return {"stalled_steps": dict(self.stalled_steps), "stalled_run": dict(self.stalled_run),
                "max_step_size": dict(self.max_step_size)}

    def load_state_dict(self, state: dict[str, dict[str, float]]) -> None:
        """Put back :meth:`state_dict`'s counts and step sizes (a checkpoint's, checked by
        :func:`lae.train.checkpoint.header_problems`)."""
        self.stalled_steps = dict(state.get("stalled_steps", {}))
        self.stalled_run = dict(state.get("stalled_run", self.stalled_steps))
        self.max_step_size = dict(state.get("max_step_size", {}))
