"""Imports go down the layers only (README, "Layout"), and no module imports itself through others
(lazy imports count): a package may import from the packages
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


def _module_name(path: Path) -> str:
    parts = ("lae", *path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the lae modules it imports, at the top or inside a function (lazy imports
    count: a cycle through one still ties the modules together). ``from lae.pkg import name``
    is an edge to ``lae.pkg.name`` when that is a module, else to ``lae.pkg``."""
    modules = {_module_name(p): p for p in ROOT.rglob("*.py")}
    graph = {}
    for name, path in modules.items():
        targets = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets |= {a.name for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                subs = {f"{node.module}.{a.name}" for a in node.names}
                found = subs & modules.keys()
                targets |= found if found else {node.module}
        graph[name] = {t for t in targets if t in modules and t != name}
    return graph


def test_the_import_graph_has_no_cycles():
    graph = import_graph()
    # a package's __init__ re-exporting its modules is an edge down into the package, and a
    # module importing its own package's front (lae.samplers from lae.samplers.chain) is the
    # same cycle seen from below: only cycles between distinct modules outside that count
    def own_front(a: str, b: str) -> bool:
        return a.startswith(b + ".")

    index, low, stack, on_stack, cycles, counter = {}, {}, [], set(), [], [0]

    def visit(v: str) -> None:  # Tarjan's strongly connected components
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on_stack.add(v)
        for w in graph[v]:
            if own_front(v, w):
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    assert not cycles, f"import cycles: {cycles}"
