"""What the numbers lae files under a key can be: the ranges of bounded metrics (results.json)
and of what the trainer logs (metrics.jsonl records), checked wherever they are read back."""

from __future__ import annotations

import math
from typing import Any

# the values a metric can take, where bounded (by key prefix): a squared error is not
# negative, an accuracy a share
RANGES = {"mse_": (0.0, math.inf), "probe_accuracy": (0.0, 1.0)}
# by the end of the key: a squared error of pixels on [0, 1] is at most 1
END_RANGES = {"_per_pixel_01": (0.0, 1.0)}


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
    end = next((bounds for end, bounds in END_RANGES.items() if key.endswith(end)), None)
    if end is not None:
        return end
    return next((bounds for prefix, bounds in RANGES.items() if key.startswith(prefix)),
                next((bounds for end, bounds in RECORD_RANGES.items() if key.endswith(end)),
                     (-math.inf, math.inf)))


def bits_per_dim_problems(values: dict[str, Any], dims: int | None = None) -> list[str]:
    """Where ``values`` (key: number, a results file's or a record's) hold bits per dimension,
    they are their nats twin's per dimension in bits, nats / (dimensions x ln 2), with a whole
    number of dimensions (``dims``, the data's, where known): one phrase for each pair that is
    not, or a bpd without its nats."""
    from lae.files import is_finite_number

    wrong = []
    for key, bpd in values.items():
        if not key.endswith("_bpd"):
            continue
        twin = key.removesuffix("_bpd") + "_nats"
        nats = values.get(twin)
        if twin not in values:
            wrong.append(f"{key} without the {twin} it is computed from")
        elif is_finite_number(bpd) and is_finite_number(nats) and bpd:
            ratio = nats / (bpd * math.log(2))
            if not math.isclose(ratio, round(ratio), rel_tol=1e-4) or round(ratio) < 1 \
                    or dims is not None and round(ratio) != dims:
                wrong.append(f"{key} {bpd!r} is not {twin} {nats!r} per dimension in bits"
                             + (f" ({dims} dimensions)" if dims is not None else ""))
    return wrong
