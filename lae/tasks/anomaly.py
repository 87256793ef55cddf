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

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor

from lae.data.processing import heldout_split
from lae.errors import ConfigError
from lae.eval.ais import ais_log_px
from lae.eval.importance import iwae_log_px
from lae.models import LatentModel
from lae.samplers.descent import descend

SCORES = ("log-joint", "refined", "nll-iwae", "nll-ais", "complexity", "likelihood-ratio")
# the scores that correct a likelihood estimate (chosen by ``likelihood``)
CORRECTED = ("complexity", "likelihood-ratio")
# the estimates of -log p(x) the corrected scores (complexity, likelihood-ratio) can build on
LIKELIHOODS = ("auto", "nll-ais", "nll-iwae", "refined", "log-joint")
# the settings each estimate reads and their defaults (anomaly_scores' own); a corrected score
# reads those of the estimate it corrects
ESTIMATE_SETTINGS = {"log-joint": {}, "refined": {"refine_steps": 20}, "nll-iwae": {"k": 100},
                     "nll-ais": {"ais_chains": 4, "ais_temps": 200}}
__all__ = ["CORRECTED", "ESTIMATE_SETTINGS", "LIKELIHOODS", "SCORES", "anomaly_scores",
           "best_likelihood", "detection_metrics", "heldout_split", "png_bits",
           "score_settings"]


def best_likelihood(model: LatentModel) -> str:
    """The best estimate of -log p(x) the model has, what ``likelihood="auto"`` uses:
    ``nll-iwae`` through its own trained q(z|x) (close to AIS for such a model, at k forward
    passes), else ``nll-ais`` under a normalised prior (the LAE, whose q is hand-set), else
    ``refined`` (the log-joint at refined latents, up to log Z under an energy-based prior)."""
    if model.has_proposal and model.proposal_is_inference:
        return "nll-iwae"
    if model.prior.normalized:
        return "nll-ais"
    return "refined"


def score_settings(model: LatentModel, score: str, likelihood: str = "auto"
                   ) -> tuple[str | None, dict[str, int]]:
    """(the estimate of -log p(x) a corrected ``score`` builds on, None for the others; the
    settings the score reads, with their defaults: :data:`ESTIMATE_SETTINGS`)."""
    if score not in CORRECTED:
        return None, dict(ESTIMATE_SETTINGS[score])
    estimate = best_likelihood(model) if likelihood == "auto" else likelihood
    return estimate, dict(ESTIMATE_SETTINGS[estimate])


def png_bits(x: Tensor, spec: Any) -> Tensor:
    """L(x): the length in bits of each image x [N, C, H, W] (data scale of ``spec``, a
    :class:`~lae.models.DataSpec`) losslessly compressed as PNG by Pillow at compression level 9,
    at 8 bits per value (grey for C = 1, RGB for C = 3): the complexity estimate of Serrà et al.
    (ICLR 2020), a bound on the image's information content by a general-purpose compressor.

    Example:
        >>> from lae.models import DataSpec
        >>> spec = DataSpec(shape=(1, 28, 28), value_range=(0.0, 1.0), n_bits=8, binary=False)
        >>> blank, noise = torch.zeros(1, 1, 28, 28), torch.rand(1, 1, 28, 28)
        >>> bool(png_bits(blank, spec) < png_bits(noise, spec))
        True
    """
    import io

    from PIL import Image

    if x.ndim != 4 or x.shape[1] not in (1, 3):
        raise ConfigError(f"png_bits: expected images [N, 1 or 3, H, W], got shape "
                          f"{tuple(x.shape)}; the complexity score needs grey or RGB images")
    values = (spec.to_unit(x.detach().cpu().double()).clamp(0, 1) * 255).round().to(torch.uint8)
    bits = []
    for image in values.permute(0, 2, 3, 1).numpy():
        buffer = io.BytesIO()
        Image.fromarray(image[..., 0] if image.shape[-1] == 1 else image).save(
            buffer, format="PNG", compress_level=9)
        bits.append(8 * buffer.getbuffer().nbytes)
    return torch.tensor(bits, dtype=torch.float64)


def anomaly_scores(model: LatentModel, x: Tensor, score: str = "log-joint", *,
                   refine_steps: int = ESTIMATE_SETTINGS["refined"]["refine_steps"],
                   refine_step_size: float = 1e-3, k: int = ESTIMATE_SETTINGS["nll-iwae"]["k"],
                   ais_temps: int = ESTIMATE_SETTINGS["nll-ais"]["ais_temps"],
                   ais_chains: int = ESTIMATE_SETTINGS["nll-ais"]["ais_chains"],
                   batch_size: int = 250,
                   likelihood: str = "auto", background: LatentModel | None = None,
                   generator: torch.Generator | None = None) -> Tensor:
    """Anomaly scores [N] (higher = more anomalous) of x [N, *shape] on the model's device by
    ``score`` (one of :data:`SCORES`, the module doc says what each is): nats per image, except
    ``complexity``, in bits per image.

    ``complexity`` and ``likelihood-ratio`` correct an estimate of -log p(x), ``likelihood``
    (one of :data:`LIKELIHOODS`; ``auto``: :func:`best_likelihood`). ``likelihood-ratio`` needs
    the ``background`` model, scored with the same estimate and the same random draws (the
    generator's state is replayed), so that a model against itself scores exactly 0."""
    if score not in SCORES:
        raise ConfigError(f"unknown score {score!r}; choices: {', '.join(SCORES)}")
    if score in CORRECTED:
        if likelihood not in LIKELIHOODS:
            raise ConfigError(f"unknown likelihood {likelihood!r}; choices: "
                              f"{', '.join(LIKELIHOODS)}")
        base = best_likelihood(model) if likelihood == "auto" else likelihood
        options = dict(refine_steps=refine_steps, refine_step_size=refine_step_size, k=k,
                       ais_temps=ais_temps, ais_chains=ais_chains, batch_size=batch_size)
        if score == "complexity":  # -log2 p(x) - L(x), both in bits per image
            nll = anomaly_scores(model, x, base, generator=generator, **options)
            return nll.double().cpu() / math.log(2) - png_bits(x, model.spec)
        if background is None:
            raise ConfigError("score likelihood-ratio needs a background model (lae anomaly "
                              "--background RUN: a run trained with data.noise_fraction > 0)")
        state = generator.get_state() if generator is not None else None
        nll = anomaly_scores(model, x, base, generator=generator, **options)
        if generator is not None:
            generator.set_state(state)
        return nll - anomaly_scores(background, x, base, generator=generator, **options)
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
                    z = descend(lambda z: -model.log_joint(xb, z), z, refine_steps,  # noqa: B023
                                refine_step_size)
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
    if np.ptp(s) == 0:  # every image tied: auc(recall, precision) would credit the ties
        raise ConfigError(f"every anomaly score is {s[0]:.6g}: the score tells no image from "
                          f"another, so there is nothing to measure")
    precision, recall, _ = precision_recall_curve(y, s)
    return {"auprc": float(auc(recall, precision)),
            "average_precision": float(average_precision_score(y, s)),
            "auroc": float(roc_auc_score(y, s)), "chance_auprc": float(y.mean()),
            "n": int(len(y)), "n_anomalies": int(y.sum())}
