"""The emitter: IR -> standalone PyTorch programs, through jinja2 templates.

Templates (templates/ at the repository root; `scorec.templates` once installed) get a
flat view model built here: names, numbers already formatted as Python literals, and
every Expr already printed to torch code. They hold no logic beyond loops and ifs.
Output is a dict {file name: text}; the same IR always gives the same bytes.
"""

from __future__ import annotations

import ast
import dataclasses
import io
import json
import os
import tokenize
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from . import __version__
from . import expr as E
from .components import registry
from .files import atomic_write_text
from .ir import Constant, Definition, Node, ProgramIR, spec_hash, to_json, training_hash
from .lockfile import LOCK_NAME, lock_text
from .spec import Spec


def _templates_dir() -> Path:
    """templates/ beside the package in a checkout, else the installed scorec.templates."""
    checkout = Path(__file__).resolve().parent.parent / "templates"
    if (checkout / "common.py.j2").is_file():
        return checkout
    from importlib.resources import files

    return Path(str(files("scorec.templates")))


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(_templates_dir())),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        autoescape=False,
        finalize=_finalize,
    )
    env.filters["py"] = py_literal
    return env


def _finalize(value: Any) -> Any:
    """How `{{ value }}` prints: numbers, tuples and None as Python literals; Code as torch code."""
    if value is None or isinstance(value, (float, list, tuple)):
        return py_literal(value)
    return value


def py_literal(value) -> str:
    """A Python literal for numbers, tuples/lists of numbers, strings and None."""
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, float):
        return E.format_number(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, (list, tuple)):
        inner = ", ".join(py_literal(v) for v in value)
        return f"({inner},)" if isinstance(value, tuple) and len(value) == 1 else (
            f"({inner})" if isinstance(value, tuple) else f"[{inner}]"
        )
    if isinstance(value, str):
        return json.dumps(value)
    raise TypeError(f"no literal for {value!r}")


@dataclass(frozen=True)
class Code:
    """An Expr as templates see it: `{{ e }}` prints torch code, `{{ e.text }}` the readable form."""

    expr: E.Expr

    def __str__(self) -> str:
        return E.to_torch(self.expr)

    @property
    def text(self) -> str:
        return E.to_text(self.expr)

    @property
    def is_zero(self) -> bool:
        return E.fold(self.expr) == E.Num(0.0)

    @property
    def is_scalar(self) -> bool:
        """A plain number (no t): it prints as a Python float, not a per-sample tensor."""
        return E.is_scalar(self.expr)


def function_body(e: E.Expr, arg: str = "t") -> str:
    """torch code of a function of `arg`: a constant body still returns a tensor shaped like it."""
    code = E.to_torch(e)
    return f"torch.full_like({arg}, {code})" if E.is_scalar(e) else code


def view(value: Any) -> Any:
    """What templates read of an IR value: nodes become dicts (with their fragment's
    template), Exprs become Code, definitions carry their printed body; numbers stay
    numbers (printed as Python literals when rendered)."""
    if isinstance(value, Node):
        out = {f.name: view(getattr(value, f.name)) for f in dataclasses.fields(value)}
        comp = registry.get(value.family, value.kind)
        out["template"] = comp.template
        out["traits"] = comp.traits
        return out
    if isinstance(value, Definition):
        return {"name": value.name, "doc": value.doc, "code": function_body(value.expr), "text": E.to_text(value.expr)}
    if isinstance(value, Constant):
        return {"name": value.name, "value": value.value, "doc": value.doc}
    if isinstance(value, E.EXPR_TYPES):
        return Code(value)
    structured = (Node, Definition, Constant, *E.EXPR_TYPES)
    if isinstance(value, (tuple, list)) and any(isinstance(v, structured) for v in value):
        return [view(v) for v in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: view(getattr(value, f.name)) for f in dataclasses.fields(value)}
    return value


def view_model(ir: ProgramIR) -> dict:
    """Everything the templates read: one entry per component family, plus the program's own."""
    return {
        "name": ir.name,
        "seed": ir.seed,
        "version": __version__,
        "spec_hash": spec_hash(ir),
        "training_hash": training_hash(ir),
        "train": view(ir.train),
        "eval": view(ir.eval),
        **{family: view(node) for family, node in ir.components().items()},
    }


def tidy_python(code: str) -> str:
    """Normalise blank lines of rendered Python to PEP 8, whatever the template whitespace.

    Two blank lines before a top-level def, class, decorator or attached comment, and
    before top-level code that follows an indented block; never more than two in a row.
    Lines inside multi-line strings (docstrings) are left as they are.
    """
    in_string = _string_lines(code)
    out: list[str] = []
    last = ""  # the last non-blank line outside strings
    for number, line in enumerate((raw.rstrip() for raw in code.split("\n")), start=1):
        if number in in_string:
            out.append(line)
            continue
        top = bool(line) and not line[0].isspace() and line[0] not in ")]}"
        starts_block = line.startswith(("def ", "class ", "@"))
        attached = bool(out) and out[-1] != "" and out[-1].startswith(("@", "#"))
        after_block = last[:1].isspace()
        if top and not attached and (starts_block or after_block) and last:
            while out and out[-1] == "":
                out.pop()
            out += ["", ""]
        elif line == "" and out[-2:] == ["", ""]:
            continue
        out.append(line)
        if line:
            last = line
    return "\n".join(out).strip("\n") + "\n"


def _string_lines(code: str) -> set[int]:
    """Numbers of the lines that continue a multi-line string token."""
    lines: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(code).readline):
        if token.type == tokenize.STRING and token.end[0] > token.start[0]:
            lines.update(range(token.start[0] + 1, token.end[0] + 1))
    return lines


# The run plumbing, the same for every spec: copied verbatim beside the programs, which import from it.
RUNTIME = "runtime.py"
# What each module a program imports from holds, for the comment on its import statement.
IMPORT_NOTES = {"common": "data, process, network, parameterization", "runtime": "run plumbing, the same for every spec"}


def runtime_file() -> Path:
    """templates/runtime.py: emitted verbatim, and the module whose RunLock `scorec run` takes."""
    return _templates_dir() / RUNTIME


@lru_cache(maxsize=1)
def runtime_source() -> str:
    return runtime_file().read_bytes().decode("utf-8")


def explicit_imports(program: str, module: str, source: str, imports: bool = True) -> str:
    """Replace the template's `from MODULE import *` by the names the program uses of `source`,
    the module's code (with imports=False, of its own definitions only, not what it imports).

    Templates need not track which of common.py's definitions each spec uses; the
    emitted program still says exactly where each name comes from (and linters can check it).
    """
    provided = _top_level_names(source, imports)
    tree = ast.parse(program)
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    names = sorted((used & provided) - _top_level_names(program), key=str.lower)
    lines, line = [], "   "
    for name in names:
        if len(line) + len(name) + 2 > 100:
            lines.append(line.rstrip())
            line = "   "
        line += f" {name},"
    lines.append(line)
    statement = f"from {module} import (  # noqa: E402  ({IMPORT_NOTES[module]})\n" + "\n".join(lines) + "\n)"
    out = [statement if raw.startswith(f"from {module} import *") else raw for raw in program.split("\n")]
    return "\n".join(out)


def _top_level_names(code: str, imports: bool = True) -> set[str]:
    """Names a module defines (and, with `imports`, imports) at its top level."""
    names: set[str] = set()
    for node in ast.parse(code).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)) and imports:
            names |= {(a.asname or a.name).split(".")[0] for a in node.names if a.name != "*"}
    return names


def prune_imports(code: str) -> str:
    """Drop top-level `import X` lines whose module the file never uses.

    Templates import what any variant of a fragment might need (math, for named
    constants under a function); the emitted file keeps what it uses, so linters pass.
    """
    tree = ast.parse(code)
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)}
    unused = {node.lineno for node in tree.body if isinstance(node, ast.Import) and len(node.names) == 1
              and node.names[0].asname is None and node.names[0].name not in used}
    lines = code.split("\n")
    kept: list[str] = []
    for n, line in enumerate(lines, start=1):
        if n in unused:
            continue
        if line == "" and n - 1 in unused and kept and kept[-1] == "":
            continue  # a whole group of imports went: one blank line stays where two framed it
        kept.append(line)
    return "\n".join(kept)


def emit(ir: ProgramIR, spec: Spec | None = None, versions: dict | None = None) -> dict[str, str]:
    """Render every emitted file; returns {file name: text}. spec.lock.json records the resolved
    spec when given and the environment's `versions` (lockfile.installed_versions()) when given."""
    env = environment()
    view = view_model(ir)
    programs = ["common.py", "sample.py"] + (["train.py"] if ir.trains else [])
    files = {name: tidy_python(prune_imports(env.get_template(name + ".j2").render(**view))) for name in programs}
    for name in programs[1:]:
        program = explicit_imports(files[name], "common", files["common.py"])
        files[name] = tidy_python(prune_imports(explicit_imports(program, "runtime", runtime_source(), imports=False)))
    files[RUNTIME] = runtime_source()
    resolved = spec.model_dump(mode="json") if spec is not None else None
    files[LOCK_NAME] = lock_text(ir, resolved, versions, files)
    return dict(sorted(files.items()))


def write_files(files: dict[str, str], out_dir: str | os.PathLike) -> list[Path]:
    """Write all files or none: render first (done), then write each atomically."""
    return [atomic_write_text(Path(out_dir) / name, text) for name, text in files.items()]


def ir_json(ir: ProgramIR) -> str:
    """The readable IR dump for `scorec ir`."""
    return json.dumps({"spec_hash": spec_hash(ir), **to_json(ir)}, indent=2)
