"""What the numbers lae files under a key can be: the ranges of bounded metrics (results.json)
and of what the trainer logs (metrics.jsonl records), checked wherever they are read back."""

from __future__ import annotations

import math

# the values a metric can take, where bounded (by key prefix): a squared error is not
# negative, an accuracy a share
RANGES = {"mse_": (0.0, math.inf), "probe_accuracy": (0.0, 1.0)}


# what the trainer logs that is bounded, by the end of the key (t05/step_size included)
RECORD_RANGES = {
    **{end: (0.0, 1.0) for end in ("acceptance", "shared_motion", "feature_rank_fraction",
                                   "nonfinite_proposals")},
    **{end: (0.0, math.inf) for end in ("step_size", "images_per_s", "train_seconds",
                                        "phi_norm", "gram_condition", "feature_rank")}}


def value_range(key: str) -> tuple[float, float]:
    """The values the key ``key`` of a results file or a ``metrics.jsonl`` record can take:
    :data:`RANGES`, :data:`RECORD_RANGES`; bits per dimension are written only for a
    probability mass, whose -log is never negative."""
    if key.endswith("_bpd"):
        return 0.0, math.inf
    return next((bounds for prefix, bounds in RANGES.items() if key.startswith(prefix)),
                next((bounds for end, bounds in RECORD_RANGES.items() if key.endswith(end)),
                     (-math.inf, math.inf)))
