"""The architecture's promises (DESIGN.md §2), checked on every example.

* Each family's fragment defines its contract (plus the names of the traits its
  component provides) and uses only its own names, the skeleton's utilities and the
  contracts of the families it may use.
* No two fragments of one program define the same name.
* No compiler or template file outside a component's own module and fragment names that
  component's kind: a new component is one room.
"""

from __future__ import annotations

import ast
import builtins
import io
import re
import tokenize
from pathlib import Path

import pytest

from emitted import EXAMPLES, REPO, compile_file
from scorec.components import registry
from scorec.core.ir import Node
from scorec.emit.render import environment, view_model

ALL_EXAMPLES = sorted(p.stem for p in EXAMPLES.glob("*.yaml"))
MODULES = {"torch", "np", "nn", "math", "json", "os", "sys", "tempfile", "time"}
# What the skeletons give every fragment: common.py.j2's utilities, sample.py.j2's step count.
SKELETON = {"bcast", "SEED", "NetworkCalls", "SAMPLE_STEPS"}


def nodes_of(ir) -> list[Node]:
    """Every component node of a program, nested ones (a sampler's corrector) included."""
    out = []

    def walk(node):
        out.append(node)
        for value in vars(node).values():
            if isinstance(value, Node):
                walk(value)

    for node in ir.components().values():
        walk(node)
    return out


def render_fragment(node: Node, view: dict) -> str:
    return environment().get_template(registry.get(node.family, node.kind).template).render(**view)


def names(code: str) -> tuple[set[str], set[str]]:
    """(top-level names a fragment defines, names it uses without binding them itself)."""
    tree = ast.parse(code)
    top = set()
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.ClassDef)):
            top.add(stmt.name)
        elif isinstance(stmt, ast.Assign):
            top |= {t.id for t in stmt.targets if isinstance(t, ast.Name)}
    bound = set(top)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            bound.add(node.id)
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):  # a lazy import inside a function
            bound |= {(alias.asname or alias.name).split(".")[0] for alias in node.names}
    loaded = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    return top, loaded - bound - set(dir(builtins)) - MODULES


def contract(node: Node, ir) -> set[str]:
    """The names a component's fragment may take from the families it may use."""
    chosen = {n.family: n for n in nodes_of(ir)}
    allowed = set()
    for family in registry.FAMILIES[node.family].may_use:
        if family in chosen:
            other = chosen[family]
            allowed |= set(registry.get(family, other.kind).fragment_names)
            # a process's named functions (beta, g, ...) may be called by spec expressions
            allowed |= {d.name for d in getattr(other, "definitions", ())}
    return allowed


@pytest.mark.parametrize("name", ALL_EXAMPLES)
def test_fragments_keep_their_family_contracts(name):
    ir = compile_file(EXAMPLES / f"{name}.yaml")
    view = view_model(ir)
    defined_by = {}
    for node in nodes_of(ir):
        comp = registry.get(node.family, node.kind)
        defined, used = names(render_fragment(node, view))
        missing = set(comp.fragment_names) - defined
        assert not missing, f"{comp.template} does not define {sorted(missing)} of the {node.family} contract"
        stray = used - defined - SKELETON - contract(node, ir)
        assert not stray, f"{comp.template} uses {sorted(stray)}, outside the contracts of {comp.family}'s families"
        defined_by[comp.template] = defined
    # fragments included by another (a corrector inside pc) are counted once, in their own right
    own = dict(defined_by)
    for node in nodes_of(ir):
        for child in vars(node).values():
            if isinstance(child, Node):
                parent = registry.get(node.family, node.kind).template
                own[parent] = own[parent] - defined_by[registry.get(child.family, child.kind).template]
    templates = sorted(own)
    for i, a in enumerate(templates):
        for b in templates[i + 1:]:
            assert not own[a] & own[b], f"{a} and {b} both define {sorted(own[a] & own[b])}"


def _quoted_strings_py(path: Path) -> set[str]:
    out = set()
    for token in tokenize.generate_tokens(io.StringIO(path.read_text()).readline):
        if token.type == tokenize.STRING:
            try:
                value = ast.literal_eval(token.string)
            except (ValueError, SyntaxError):
                continue
            if isinstance(value, str):
                out.add(value)
    return out


def _quoted_strings_j2(path: Path) -> set[str]:
    """Strings quoted inside jinja tags ({% if x == "kind" %}, {% include "..." %})."""
    out = set()
    for tag in re.findall(r"\{[{%](.*?)[}%]\}", path.read_text(), flags=re.S):
        out |= set(re.findall(r"[\"']([^\"']*)[\"']", tag))
    return out


def test_no_file_outside_a_component_names_its_kind():
    owners: dict[str, set[Path]] = {}
    for comp in registry.all_components():
        module = Path(__import__(comp.module, fromlist=["_"]).__file__).resolve()
        owners.setdefault(comp.kind, set()).update({module, (REPO / "templates" / comp.template).resolve()})
    files = [*(REPO / "scorec").rglob("*.py"), *(REPO / "templates").rglob("*.j2"), *(REPO / "templates").rglob("*.py")]
    offenders = []
    for path in files:
        strings = _quoted_strings_py(path) if path.suffix == ".py" else _quoted_strings_j2(path)
        for kind, own in owners.items():
            # a shared fragment (process/_gaussian_sde.py.j2) belongs to all its users
            if path.resolve() not in own and kind in strings:
                offenders.append(f"{path.relative_to(REPO)} names '{kind}'")
    assert not offenders, offenders
