"""Where toy experiments put their results: ``OUT/<name>.json`` and a PNG beside it."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any


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
