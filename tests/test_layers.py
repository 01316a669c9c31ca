"""The layers hold (DESIGN.md §1, issue 17): every import of every module under scorec/,
function-level ones included, read with `ast`.

* Imports point down the pipeline only: a module imports its own layer or the layers
  before it in LAYERS; some layers are narrower still (ONLY): parsing knows no schema,
  components never import the frontend or the schema, metrics use only the core.
* No import cycle between modules.
* The compiler never imports torch: only run/ and metrics/ may (and the emitted programs).
* No module is over MAX_LINES lines.
"""

from __future__ import annotations

import ast
from functools import lru_cache
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "scorec"

# The pipeline, first to last. A module's layer is the package right under scorec/ that
# holds it (scorec/pipeline.py and scorec/cli.py are layers of their own).
# metrics sit before the schema: like components, a metric module declares what the schema and the
# lowering read (its name, needs, defaults) beside the code that only run/ calls (compute, whose numpy
# and torch imports are inside it: test_the_compiler_loads_no_metric_numerics checks they stay there).
LAYERS = ("core", "frontend", "components", "metrics", "schema", "lower", "emit", "pipeline", "tools", "run", "cli")
# Layers that may import less than everything before them.
ONLY = {
    "frontend": {"core"},
    "components": {"core"},  # expressions and the IR vocabulary, never the frontend nor the schema
    "metrics": {"core"},  # registered components of their own: declarations the schema reads, compute that run/ calls
}
# Where torch may be imported: the layers that run emitted programs and measure their samples.
TORCH_LAYERS = {"run", "metrics"}
MAX_LINES = 400


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@lru_cache(maxsize=1)
def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> str:
    parts = module.split(".")
    if len(parts) == 1 or parts[1] == "__main__":  # scorec/__init__.py holds the version; __main__ is the CLI
        return "core" if len(parts) == 1 else "cli"
    return parts[1]


def imports_of(module: str) -> list[tuple[int, str]]:
    """(line, imported module) of every import statement in `module`, at any depth.

    `from pkg import name` imports pkg.name where that is a module, else pkg. Relative
    imports are resolved against the module's package."""
    path = modules()[module]
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module
            for alias in node.names:
                child = f"{source}.{alias.name}"
                found.append((node.lineno, child if child in modules() else source))
    return found


def where(module: str, line: int) -> str:
    return f"{modules()[module].relative_to(PACKAGE.parent)}:{line} ({module})"


def scorec_edges() -> dict[str, list[tuple[int, str]]]:
    """module -> (line, imported scorec module), every import resolved to a module under scorec/."""
    edges = {}
    for module in modules():
        targets = []
        for line, target in imports_of(module):
            while target not in modules() and "." in target:  # `import scorec.x.y.Name`: the module part
                target = target.rpartition(".")[0]
            if target in modules() and target != module and (line, target) not in targets:
                targets.append((line, target))
        edges[module] = targets
    return edges


def test_every_module_has_a_layer():
    unknown = sorted(m for m in modules() if layer_of(m) not in LAYERS)
    assert not unknown, f"modules outside every layer (add their package to LAYERS in {__file__}): {unknown}"


def test_imports_point_down_the_pipeline():
    breaches = []
    for module, targets in scorec_edges().items():
        layer = layer_of(module)
        allowed = ONLY.get(layer, set(LAYERS[: LAYERS.index(layer)])) | {layer}
        for line, target in targets:
            if layer_of(target) not in allowed:
                breaches.append(f"{where(module, line)} imports {target}: the {layer} layer may import only "
                                f"{', '.join(sorted(allowed, key=LAYERS.index))}")
    assert not breaches, "imports that point up the pipeline:\n" + "\n".join(breaches)


def find_cycles(edges: dict[str, list[tuple[int, str]]]) -> list[list[str]]:
    """One cycle through each strongly connected component of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:  # recursive: the graph has a few hundred edges at most
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for _, nxt in edges.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return [_cycle_in(component, edges) for component in components]


def _cycle_in(component: list[str], edges: dict[str, list[tuple[int, str]]]) -> list[str]:
    """A shortest path from the component's first module back to itself, inside the component."""
    inside, start = set(component), component[0]
    paths = {start: [start]}
    frontier = [start]
    while frontier:
        nxt_frontier = []
        for node in frontier:
            for _, nxt in edges[node]:
                if nxt == start:
                    return paths[node] + [start]
                if nxt in inside and nxt not in paths:
                    paths[nxt] = paths[node] + [nxt]
                    nxt_frontier.append(nxt)
        frontier = nxt_frontier
    return component


def test_no_import_cycles():
    edges = scorec_edges()
    cycles = find_cycles(edges)

    def step(a: str, b: str) -> str:
        line = next(line for line, target in edges[a] if target == b)
        return f"{where(a, line)} imports {b}"

    assert not cycles, "import cycles:\n" + "\n".join(
        "  " + "\n  ".join(step(a, b) for a, b in zip(cycle, cycle[1:])) for cycle in cycles)


def test_the_cycle_finder_finds_a_cycle():
    """The checker itself: a three-module cycle beside an acyclic branch is found, as a path."""
    edges = {"a": [(1, "b")], "b": [(1, "c"), (2, "d")], "c": [(1, "a")], "d": []}
    assert find_cycles(edges) == [["a", "b", "c", "a"]]
    assert find_cycles({"a": [(1, "b")], "b": []}) == []


def test_the_compiler_never_imports_torch():
    breaches = [f"{where(module, line)} imports {target}"
                for module in modules() if layer_of(module) not in TORCH_LAYERS
                for line, target in imports_of(module) if target.split(".")[0] == "torch"]
    assert not breaches, "torch imported outside run/ and metrics/:\n" + "\n".join(breaches)


def test_the_compiler_loads_no_metric_numerics():
    """The schema imports every metric's declaration; none may pull in numpy, torch, scipy or sklearn."""
    import subprocess
    import sys

    code = ("import sys; from scorec.metrics import registry; registry.metrics(); import scorec.schema.spec; "
            "print(sorted(m for m in ('numpy', 'torch', 'scipy', 'sklearn', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         cwd=PACKAGE.parent).stdout.strip()
    assert out == "[]"


@pytest.mark.parametrize("module", sorted(modules()))
def test_no_module_is_too_long(module):
    lines = len(modules()[module].read_text().splitlines())
    assert lines <= MAX_LINES, f"{modules()[module].relative_to(PACKAGE.parent)} has {lines} lines (at most {MAX_LINES})"


def test_every_package_ships_in_the_wheel():
    """pyproject.toml lists the packages explicitly (templates/ ships as scorec.templates): a package
    missing there is missing from `pip install .`, and the installed scorec fails on import."""
    import tomllib

    listed = set(tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["tool"]["setuptools"]["packages"])
    on_disk = {".".join(init.parent.relative_to(PACKAGE.parent).parts) for init in PACKAGE.rglob("__init__.py")}
    assert on_disk - listed == set(), f"add to pyproject.toml's packages: {sorted(on_disk - listed)}"
