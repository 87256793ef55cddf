"""Throughput of the evaluation's two costly samplers on a trained model.

- :func:`timed_nll_ais`: the ``nll-ais`` metric (lae/eval/metrics.py: AIS with M chains per
  image, K temperatures, HMC after a pilot run that adapts the step sizes) on test images, with
  its wall time: the NLL in nats and bits/dim and the images scored per second;
- :func:`posterior_reference_throughput`: the long-run per-point MALA reference of the
  ``posterior`` metric (lae/eval/posterior.py: C chains per point, warm-up then kept steps),
  from prior draws, in points per second.

Both read their figures back from the device before the clock stops.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from lae.eval.metrics import EvalSettings, evaluate
from lae.eval.posterior import reference_samples
from lae.models import LatentModel

NLL_AIS_KEYS = ("nll_ais_bpd", "nll_ais_nats")


def timed_nll_ais(model: LatentModel, x: Tensor, settings: EvalSettings,
                  synchronize: Callable[[], None] = lambda: None) -> dict[str, Any]:
    """Score x [N, *shape] with ``nll-ais``; returns ``nll_ais_bpd`` (bits/dim, 8-bit data
    only) and ``nll_ais_nats`` (per image), each with ``_stderr`` (over images, None for one),
    ``n_images``, ``ais_seconds``, ``ais_images_per_second`` and the metric's ``ais_settings``."""
    synchronize()
    start = time.perf_counter()
    metrics = evaluate(model, x, ["nll-ais"], settings)["metrics"]
    synchronize()
    seconds = time.perf_counter() - start
    out: dict[str, Any] = {}
    for key in NLL_AIS_KEYS:
        result = metrics.get(key)
        out[key] = None if result is None else result["value"]
        out[f"{key}_stderr"] = None if result is None else result["stderr"]
    out |= {"n_images": int(x.shape[0]), "ais_seconds": seconds,
            "ais_images_per_second": x.shape[0] / seconds,
            "ais_settings": next((r["settings"] for r in metrics.values()), None)}
    return out


def posterior_reference_throughput(model: LatentModel, x: Tensor, *, chains: int, steps: int,
                                   warmup: int, seed: int = 0,
                                   synchronize: Callable[[], None] = lambda: None
                                   ) -> dict[str, Any]:
    """Time :func:`lae.eval.posterior.reference_samples` on x [N, *shape] with ``chains``
    chains per point started from prior draws, ``warmup`` adaptive and ``steps`` kept MALA steps
    per chain (doubled for the points that do not converge: the reference's own rule); returns
    the settings, ``seconds``, ``points_per_second``, the rank-normalised R-hat (``rhat_max``,
    ``rhat_median`` over points and coordinates), the least bulk ESS and how many points needed
    a doubled budget: whether these settings converge."""
    device = next(model.parameters()).device
    x = x.to(device)
    g = torch.Generator(device=device).manual_seed(seed)
    was_training = model.training
    model.eval()
    try:
        z0 = model.prior.sample(chains * x.shape[0], generator=g).reshape(chains, x.shape[0], -1)
        synchronize()
        start = time.perf_counter()
        ref = reference_samples(model.log_joint, x, z0.to(device), steps, warmup, generator=g)
        rhat = ref.rhat.cpu()  # reads the result back: the clock stops after the device is done
        seconds = time.perf_counter() - start
    finally:
        model.train(was_training)
    return {"n_points": int(x.shape[0]), "chains_per_point": chains,
            "kept_steps_per_chain": steps, "warmup_steps_per_chain": warmup,
            "start": "prior draws", "seconds": seconds,
            "points_per_second": x.shape[0] / seconds,
            "rhat_max": float(rhat.max()), "rhat_median": float(rhat.median()),
            "bulk_ess_min": float(ref.ess.min()),
            "points_budget_doubled": int((ref.doublings > 0).sum())}
