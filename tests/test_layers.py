"""Imports go down the layers only (README, "Layout"): a package may import from the packages
listed before it, never from one listed after it. ``lae.errors`` is shared by all."""

import ast
from pathlib import Path

import lae

LAYERS = ["data", "nn", "samplers", "distributions", "models", "eval", "tasks", "toy", "train",
          "bench", "commands", "cli"]
ROOT = Path(lae.__file__).parent


def _layer(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if parts[0] == "lae" and len(parts) > 1 and parts[1] in LAYERS else None


def test_every_import_goes_down_the_layers():
    wrong = []
    for path in sorted(ROOT.rglob("*.py")):
        rel = path.relative_to(ROOT)
        own = rel.parts[0] if len(rel.parts) > 1 else rel.stem
        if own not in LAYERS:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.module
                     else [])
            for name in names:
                target = _layer(name)
                if target is not None and LAYERS.index(target) > LAYERS.index(own):
                    wrong.append(f"{rel}:{node.lineno} imports {name} (layer {target} is above "
                                 f"{own})")
    assert not wrong, "\n".join(wrong)
