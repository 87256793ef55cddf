"""What people use these models for, on documented protocols, for every registered model:
anomaly detection (:mod:`lae.tasks.anomaly`) and inpainting (:mod:`lae.tasks.inpaint`, also the
recovery of the hidden values of corrupted training data), with the masks of
:mod:`lae.data.masks` (shared with training on corrupted data, ``data.mask``). Each works from a
trained model in a few lines, and from the command line (``lae anomaly``, ``lae inpaint``;
docs/tasks.md).
"""

from lae.data.masks import MASKS, make_mask
from lae.tasks.anomaly import (
    CORRECTED,
    ESTIMATE_SETTINGS,
    LIKELIHOODS,
    SCORES,
    anomaly_scores,
    best_likelihood,
    detection_metrics,
    heldout_split,
    png_bits,
    score_settings,
)
from lae.tasks.inpaint import InpaintResult, inpaint, save_inpainting_grid

__all__ = ["CORRECTED", "ESTIMATE_SETTINGS", "LIKELIHOODS", "MASKS", "SCORES", "InpaintResult",
           "anomaly_scores", "best_likelihood", "detection_metrics", "heldout_split", "inpaint",
           "make_mask", "png_bits", "save_inpainting_grid", "score_settings"]
