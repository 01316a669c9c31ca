"""Tidying of rendered Python: the emitted files read as if written by hand.

Templates are written for people and may leave blank lines and imports that a given spec
does not need; these passes normalise the blank lines to PEP 8, drop unused imports, and
turn a program's `from common import *` into the names it uses.
"""

from __future__ import annotations

import ast
import io
import tokenize


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


# What each module a program imports from holds, for the comment on its import statement.
IMPORT_NOTES = {
    "common": "data, process, network, parameterization",
    "runtime": "run plumbing, the same for every spec",
    "runtime_parallel": "processes and sharding, the same for every spec",
    "runtime_training": "checkpoints and training, the same for every spec",
    "runtime_sampling": "the sampling share, the same for every spec",
    "runtime_trackers": "experiment trackers, the same for every spec",
}


def explicit_imports(program: str, star: str, sources: dict[str, str], imports: bool = True) -> str:
    """Replace the template's `from STAR import *` by one import statement per module of `sources`
    ({module: its code}, in that order) naming what the program uses of it (with imports=False, of the
    module's own definitions only, not what it imports); a module it uses nothing of gets none.

    Templates need not track which definitions each spec uses, nor which module holds them; the
    emitted program still says exactly where each name comes from (and linters can check it).
    """
    tree = ast.parse(program)
    used = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name)} - _top_level_names(program)
    statements = []
    for module, source in sources.items():
        names = sorted(used & _top_level_names(source, imports), key=str.lower)
        if names:
            statements.append(_import_statement(module, names))
    out = []
    for raw in program.split("\n"):
        if raw.startswith(f"from {star} import *"):
            out += statements
        else:
            out.append(raw)
    return "\n".join(out)


def _import_statement(module: str, names: list[str]) -> str:
    """`from MODULE import (...)`, the names wrapped at 100 columns."""
    lines, line = [], "   "
    for name in names:
        if len(line) + len(name) + 2 > 100:
            lines.append(line.rstrip())
            line = "   "
        line += f" {name},"
    lines.append(line)
    return f"from {module} import (  # noqa: E402  ({IMPORT_NOTES[module]})\n" + "\n".join(lines) + "\n)"


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
