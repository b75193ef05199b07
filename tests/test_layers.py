"""The package's layers import only downward, its modules form no cycle, and no module
outside the kind registry branches on a network's kind.

Every import is counted, at module level or inside a function (a function-local import is
an edge all the same: it only hides a cycle until the function runs). The layers, from
the bottom (``docs/architecture.md`` explains them):
"""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import evoneuro

ROOT = Path(evoneuro.__file__).parent

#: Bottom to top; a module may import its own layer and those below it.
LAYERS = [
    ("helpers", ("evoneuro._validation", "evoneuro._threads", "evoneuro._plotting", "evoneuro._moved",
                 "evoneuro._version")),
    ("network", ("evoneuro.network",)),
    ("backends", ("evoneuro.backends",)),
    ("evaluation", ("evoneuro.evaluator", "evoneuro.problems", "evoneuro.fitness", "evoneuro.regularization",
                    "evoneuro.distributed", "evoneuro.control")),
    ("optimizers", ("evoneuro.optimizers",)),
    ("training", ("evoneuro.training",)),
    ("applications", ("evoneuro.estimators", "evoneuro.diagnostics", "evoneuro.tasks")),
    ("bench", ("evoneuro.bench",)),
    ("cli", ("evoneuro.cli",)),
]
#: The package's own ``__init__`` re-exports the public API from every layer.
TOP = "evoneuro"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(ROOT.rglob("*.py"))}


def rank(module: str) -> int:
    for i, (_, prefixes) in enumerate(LAYERS):
        if any(module == p or module.startswith(p + ".") for p in prefixes):
            return i
    raise AssertionError(f"{module} is in no layer: add it to LAYERS in tests/test_layers.py and to "
                         "docs/architecture.md")


def imports(module: str) -> list[tuple[int, str]]:
    """``(line, imported evoneuro module)`` for every import in ``module``, wherever it stands."""
    path = MODULES[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name) for a in node.names if a.name.split(".")[0] == "evoneuro"]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            if target.split(".")[0] != "evoneuro":
                continue
            for a in node.names:  # "from pkg import module" imports the module
                sub = f"{target}.{a.name}"
                found.append((node.lineno, sub if sub in MODULES else target))
    return [(line, m) for line, m in found if m in MODULES]


GRAPH = {m: sorted({t for _, t in imports(m)} - {m}) for m in MODULES}


def test_every_module_is_in_a_layer():
    for m in MODULES:
        if m != TOP:
            rank(m)


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m != TOP))
def test_imports_go_down_only(module):
    mine = rank(module)
    upward = [f"line {line}: {target} ({LAYERS[rank(target)][0]})" for line, target in imports(module)
              if target != TOP and rank(target) > mine]
    assert not upward, f"{module} ({LAYERS[mine][0]}) imports a layer above it: {upward}"


def test_no_module_imports_the_package_top():
    # evoneuro/__init__ imports every layer, so importing it from inside is an upward edge
    offenders = [(m, line) for m in MODULES if m != TOP for line, t in imports(m) if t == TOP]
    assert not offenders, offenders


def test_no_import_cycle():
    cycles, state, stack = [], {}, []

    def visit(m):
        state[m] = "open"
        stack.append(m)
        for t in GRAPH[m]:
            if state.get(t) == "open":
                cycles.append(stack[stack.index(t):] + [t])
            elif t not in state:
                visit(t)
        stack.pop()
        state[m] = "done"

    for m in sorted(GRAPH):
        if m not in state and m != TOP:
            visit(m)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_no_kind_branch_outside_the_registry():
    """``net.kind`` is read by the kind registry only; every other module asks the registry."""
    allowed = {"evoneuro.network.kinds", "evoneuro.network.base"}
    offenders = []
    for m, path in MODULES.items():
        if m in allowed:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr == "kind":
                owner = ast.unparse(node.value)
                if owner == "net" or owner.endswith(".net"):
                    offenders.append(f"{m}:{node.lineno} {ast.unparse(node)}")
            if (isinstance(node, ast.Call) and ast.unparse(node.func) == "getattr" and len(node.args) >= 2
                    and isinstance(node.args[1], ast.Constant) and node.args[1].value == "kind"):
                offenders.append(f"{m}:{node.lineno} {ast.unparse(node)}")
    assert not offenders, offenders


def test_every_registered_kind_loads_every_part():
    from evoneuro.network.kinds import KINDS, PARTS

    for kind in KINDS.values():
        for part in PARTS:
            assert kind.load(part) is not None, (kind.name, part)
        assert kind.load("spec").kind == kind.name


@pytest.mark.parametrize("old, new", sorted(__import__("evoneuro._moved", fromlist=["MOVED"]).MOVED.items()))
def test_old_public_module_paths_still_import(old, new):
    assert importlib.import_module(old) is importlib.import_module(new)


def test_a_moved_module_does_not_shadow_a_package_function():
    import evoneuro.minimize  # noqa: F401  (the module's old path)

    assert callable(evoneuro.minimize) and evoneuro.minimize.__name__ == "minimize"


def test_every_public_name_of_the_flat_layout_still_imports_from_where_it_was():
    """Every public module-level name of the package as it was before it was layered
    (commit c8016e2; ``tests/data/public_names_c8016e2.json``) under its old module path."""
    import json

    names = json.loads((Path(__file__).parent / "data" / "public_names_c8016e2.json").read_text())
    missing = [f"{module}.{name}" for module, found in sorted(names.items())
               for name in found if not hasattr(importlib.import_module(module), name)]
    assert not missing, missing
