"""The house is layered one way: every import runs down (or stays inside its own room), and no
modules import each other in a circle. Read from the code's own import statements (those inside
functions too), so a new upward import fails here before it lands."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]

# top to bottom; rooms on one line may not import each other (each is its own process or concern)
LAYERS: list[tuple[str, ...]] = [
    ("bazaar",),  # the roof: the `bazaar` command and the process entry points
    ("bench",),  # benchmarks drive whole processes
    ("api", "agents"),  # the HTTP API; the Faust agents of the worker and the analytics process
    ("streams", "clickhouse", "bazaar_core.notifier"),  # one room per process: stock worker, analytics, notifier
    ("bazaar_core.kafka", "bazaar_core.page_access"),  # the Kafka adapters every process uses; the internal ports' access
    ("bazaar_core.loadgen", "domain"),  # the load generator; the pure rules
    ("bazaar_core",),  # settings, logs, process supervision
    ("schemas",),  # the contract
]
PACKAGES = ("bazaar", "bench", "api", "agents", "streams", "clickhouse", "bazaar_core", "domain", "schemas")


def room(module: str) -> tuple[int, str]:
    """(layer index, room) of a module: the longest room name that is a prefix of it."""
    best = None
    for i, rooms in enumerate(LAYERS):
        for r in rooms:
            if (module == r or module.startswith(r + ".")) and (best is None or len(r) > len(best[1])):
                best = (i, r)
    assert best is not None, f"{module} belongs to no layer: add its room to LAYERS"
    return best


def modules() -> dict[str, Path]:
    out = {}
    for package in PACKAGES:
        for path in (ROOT / package).rglob("*.py"):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def imports(path: Path, module: str) -> set[str]:
    """Project modules a file imports (``from x import y`` counts x.y when y is a module)."""
    found: set[str] = set()
    known = modules()
    tree = ast.parse(path.read_text(), str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import
                anchor = module.split(".")[: len(module.split(".")) - node.level + (1 if path.name == "__init__.py" else 0)]
                base = ".".join(anchor + ([base] if base else []))
            names = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names]
        else:
            continue
        found.update(n for n in names if n.split(".")[0] in PACKAGES)
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    return {m: {i for i in imports(p, m) if i != m} for m, p in modules().items()}


def test_every_import_runs_down(graph):
    upward = []
    for module, deps in graph.items():
        layer, here = room(module)
        for dep in deps:
            dep_layer, there = room(dep)
            if there != here and dep_layer <= layer:
                upward.append(f"{module} -> {dep}  ({here} may not import {there})")
    assert not upward, "imports that run up or across:\n" + "\n".join(sorted(upward))


def test_no_import_cycles(graph):
    cycles, state, stack = [], {}, []

    def visit(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for d in sorted(graph.get(m, ())):
            if d not in graph:
                continue
            if state.get(d) == 1:
                cycles.append(stack[stack.index(d) :] + [d])
            elif d not in state:
                visit(d)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            visit(m)
    assert not cycles, "import cycles:\n" + "\n".join(" -> ".join(c) for c in cycles)


def test_the_layers_name_every_package():
    for module in modules():
        room(module)
