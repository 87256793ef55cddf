"""Results as strict JSON."""

from __future__ import annotations

import math


def json_safe(value):
    """NaN and infinities become null: strict JSON has no NaN (an undefined stderr is one)."""
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value
