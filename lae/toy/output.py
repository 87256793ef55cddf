"""Where toy experiments put their results: ``OUT/<name>.json`` and a PNG beside it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np


def pyplot():
    """matplotlib.pyplot on the file-only Agg backend (no screen here)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def write_outputs(out: str | Path, name: str, report: dict[str, Any],
                  plot: Callable[[Path], None], png: str | None = None,
                  verbose: bool = False) -> Path:
    """Write ``report`` as ``out/<name>.json`` and call ``plot(out/<png or name>.png)``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    json_path, png_path = out / f"{name}.json", out / f"{png or name}.png"
    json_path.write_text(json.dumps(report, indent=1))
    plot(png_path)
    if verbose:
        print(f"wrote {json_path} and {png_path}")
    return json_path


def output_paths(npz: str | Path | None, json_out: str | Path | None
                 ) -> tuple[Path | None, Path | None]:
    """Where :func:`save_npz_and_report` writes: the npz (``.npz`` added when missing, as
    ``np.savez`` does) and the JSON report (``json_out``, or next to the npz)."""
    path = None if npz is None else Path(npz)
    if path is not None and path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
    json_path = Path(json_out) if json_out is not None else (
        path.with_suffix(".json") if path is not None else None)
    return path, json_path


def save_npz_and_report(npz: str | Path | None, json_out: str | Path | None,
                        report: dict[str, Any], arrays: Callable[[], dict[str, Any]],
                        file_key: str) -> None:
    """Save ``arrays()`` to ``npz`` (when given; its path goes into ``report[file_key]``) and the
    report as JSON at ``json_out``, or next to the npz (path in ``report["report_file"]``)."""
    path, json_path = output_paths(npz, json_out)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, **arrays())
        report[file_key] = str(path)
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(report, indent=1))
        report["report_file"] = str(json_path)


def print_written(report: dict[str, Any]) -> None:
    """One line per file :func:`save_npz_and_report` wrote (their paths are in ``report``)."""
    for key in ("file", "report_file"):
        if key in report:
            print(f"  wrote {report[key]}")
