"""``results.json``: what ``lae eval`` writes and ``lae report`` reads.

One file per run folder accumulates metrics: a later ``lae eval`` of the same checkpoint and split
adds its metrics to those already there (a metric computed again replaces its old value), so a
cheap metric run after a long AIS run does not lose the AIS numbers. Results of another
checkpoint, epoch or split are replaced, with a note on what was dropped.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

from lae.errors import RunDirError

# what identifies the model and data a results file describes
IDENTITY = ("checkpoint", "epoch", "dataset", "split")


def read_results(path: Path) -> dict[str, Any]:
    """The results in ``path``; a file that is not a results object is a
    :class:`lae.errors.RunDirError` naming it."""
    try:
        results = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise RunDirError(f"{path}: not a readable results file ({exc}); move it away or run "
                          f"lae eval with --overwrite") from None
    if not isinstance(results, dict) or not isinstance(results.get("metrics"), dict):
        raise RunDirError(f"{path}: not a results file of lae eval (expected a JSON object with "
                          f"a 'metrics' object); move it away or run lae eval with --overwrite")
    return results


def merge_results(old: dict[str, Any], new: dict[str, Any], names: list[str]
                  ) -> dict[str, Any]:
    """``new`` (from the metrics ``names``) with the results of ``old`` it did not compute,
    when both describe the same checkpoint, epoch, dataset and split; else ``new`` alone (with
    a warning naming the results dropped).

    Example:
        >>> ident = {"checkpoint": "c.pt", "epoch": 3, "dataset": "d", "split": "test"}
        >>> old = ident | {"metrics": {"nll_ais_nats": 1}, "skipped": {"iwae": "no q"}}
        >>> new = ident | {"metrics": {"mse_per_pixel_01": 2}, "skipped": {}}
        >>> sorted(merge_results(old, new, ["mse"])["metrics"])
        ['mse_per_pixel_01', 'nll_ais_nats']
    """
    if any(old.get(k) != new.get(k) for k in IDENTITY):
        if old.get("metrics"):
            was = ", ".join(f"{k} {old.get(k)}" for k in IDENTITY)
            warnings.warn(f"results of another evaluation ({was}) replaced: "
                          f"{', '.join(sorted(old['metrics']))}", stacklevel=2)
        return new
    metrics = old["metrics"] | new["metrics"]
    skipped = {k: v for k, v in old.get("skipped", {}).items() if k not in names}
    return new | {"metrics": metrics, "skipped": skipped | new.get("skipped", {})}
