r"""Anomaly detection with one class held out: train on the other classes, then score test
images; the held-out class is the anomaly (the positive class).

**Split.** ``data.holdout_class=D`` trains without class D and keeps the official test split
(normals and anomalies as they come). ``data.holdout_split=zenati`` uses instead the split of the
published MNIST benchmarks (Zenati et al. 2018): the train and test images pooled, the normal ones
permuted by ``numpy.random.RandomState(42)``, the first 80 % for training, the test set the other
20 % plus every image of class D. The published code draws that permutation from a generator
created once and permuted again for the test split, so about 80 % of its "test" normals were
training images; :func:`heldout_split` (lae/data/processing.py) makes a fresh generator per
call, so the test normals are exactly the 20 % not trained on (tested: disjoint, reproducible).

**Scores** (higher = more anomalous), :func:`anomaly_scores`:

- ``log-joint``: -log p(x, z) at the model's own inferred latent z = ``model.infer(x)`` (an
  encoder's mean, the LAE's Phi g(x), a chain's state); under an energy-based prior, up to the
  constant log Z, which does not change a ranking;
- ``refined``: the same after ``refine_steps`` noise-free gradient steps on U(z) = -log p(x, z)
  from there (each image's step grows by 1.2 after a step that lowered U, and is halved, the
  step undone, after one that did not);
- ``nll-iwae``: -log p(x) by the IWAE bound with k samples of the model's proposal (models with
  one); ``nll-ais``: -log p(x) by AIS (any model with a normalised prior).

**Metrics** (:func:`detection_metrics`, scikit-learn): AUPRC as ``auc(recall, precision)`` (what the
papers print), ``average_precision_score`` (the step-wise sum; the trapezoid interpolates linearly
between points of the curve, which no classifier attains), AUROC, and the chance level of
AUPRC, the share of anomalies in the test set: a published row below it ranks anomalies as more
normal than normals.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from lae.data.processing import heldout_split
from lae.errors import ConfigError
from lae.eval.ais import ais_log_px
from lae.eval.importance import iwae_log_px
from lae.models import LatentModel

SCORES = ("log-joint", "refined", "nll-iwae", "nll-ais")
__all__ = ["SCORES", "anomaly_scores", "detection_metrics", "heldout_split"]


def _refine(model: LatentModel, x: Tensor, z: Tensor, steps: int, step_size: float) -> Tensor:
    """``steps`` noise-free gradient steps on U(z) = -log p(x, z), each image's step halved
    (and the step undone) when its energy rises."""
    eta = torch.full((z.shape[0], 1), step_size, dtype=z.dtype, device=z.device)
    z = z.detach().requires_grad_(True)
    energy = -model.log_joint(x, z)
    grad = torch.autograd.grad(energy.sum(), z)[0]
    for _ in range(steps):
        cand = (z - eta * grad).detach().requires_grad_(True)
        cand_energy = -model.log_joint(x, cand)
        cand_grad = torch.autograd.grad(cand_energy.sum(), cand)[0]
        better = (cand_energy <= energy) & torch.isfinite(cand_energy)
        keep = better[:, None]
        z = torch.where(keep, cand, z).detach().requires_grad_(True)
        grad = torch.where(keep, cand_grad, grad)
        energy = torch.where(better, cand_energy, energy).detach()
        eta = torch.where(keep, eta * 1.2, eta / 2)
    return z.detach()


def anomaly_scores(model: LatentModel, x: Tensor, score: str = "log-joint", *,
                   refine_steps: int = 20, refine_step_size: float = 1e-3, k: int = 100,
                   ais_temps: int = 200, ais_chains: int = 4, batch_size: int = 250,
                   generator: torch.Generator | None = None) -> Tensor:
    """Anomaly scores [N] (higher = more anomalous) of x [N, *shape] on the model's device by
    ``score`` (one of :data:`SCORES`, the module doc says what each is). Nats per image."""
    if score not in SCORES:
        raise ConfigError(f"unknown score {score!r}; choices: {', '.join(SCORES)}")
    if score == "nll-iwae" and not model.has_proposal:
        raise ConfigError(f"score nll-iwae: model {model.cfg.name!r} has no proposal q(z|x); "
                          f"use log-joint, refined or nll-ais")
    if score == "nll-ais" and not model.prior.normalized:
        raise ConfigError("score nll-ais: the prior is known only up to log Z; use log-joint or "
                          "refined (log Z does not change a ranking)")
    out = []
    was_training = model.training
    model.eval()
    try:
        for start in range(0, x.shape[0], batch_size):
            xb = x[start:start + batch_size]
            if score == "nll-iwae":
                with torch.no_grad():
                    s = -iwae_log_px(model.log_joint, model.proposal(xb), xb, k,
                                     generator=generator)
            elif score == "nll-ais":
                s = -ais_log_px(model.prior, model.log_likelihood, xb, n_chains=ais_chains,
                                n_temps=ais_temps, generator=generator)[0]
            else:
                with torch.no_grad():
                    z = model.infer(xb, generator)
                if score == "refined":
                    z = _refine(model, xb, z, refine_steps, refine_step_size)
                with torch.no_grad():
                    s = -model.log_joint(xb, z)
            out.append(s.detach())
    finally:
        model.train(was_training)
    return torch.cat(out)


def detection_metrics(is_anomaly: Tensor, scores: Tensor) -> dict[str, Any]:
    """AUPRC (``auc(recall, precision)``, as published, and ``average_precision_score``), AUROC and
    the chance AUPRC (the share of anomalies) for boolean labels [N] and scores [N] (higher = more
    anomalous).

    Example:
        >>> m = detection_metrics(torch.tensor([False, False, True, True]),
        ...                       torch.tensor([0.1, 0.2, 0.8, 0.9]))
        >>> m["auprc"], m["average_precision"], m["auroc"], m["chance_auprc"]
        (1.0, 1.0, 1.0, 0.5)
    """
    from sklearn.metrics import auc, average_precision_score, precision_recall_curve, roc_auc_score

    y = is_anomaly.cpu().numpy().astype(bool)
    s = scores.detach().cpu().double().numpy()
    if not np.isfinite(s).all():
        raise ValueError(f"{int((~np.isfinite(s)).sum())} anomaly scores are not finite")
    if y.all() or not y.any():
        raise ConfigError("anomaly metrics need both normal and anomalous test images")
    precision, recall, _ = precision_recall_curve(y, s)
    return {"auprc": float(auc(recall, precision)),
            "average_precision": float(average_precision_score(y, s)),
            "auroc": float(roc_auc_score(y, s)), "chance_auprc": float(y.mean()),
            "n": int(len(y)), "n_anomalies": int(y.sum())}
