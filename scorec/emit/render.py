"""The emitter: IR -> standalone PyTorch programs, through jinja2 templates.

Templates (templates/ at the repository root; `scorec.templates` once installed) get a
flat view model built here: names, numbers already formatted as Python literals, and
every Expr already printed to torch code. They hold no logic beyond loops and ifs.
Output is a dict {file name: text}, tidied (tidy.py); the same IR always gives the same bytes.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from .. import __version__
from ..components import registry
from ..core import expr as E
from ..core.files import atomic_write_text
from ..core.ir import Constant, Definition, Node, ProgramIR, spec_hash, to_json, training_hash
from ..schema.spec import Spec
from .lockfile import LOCK_NAME, lock_text
from .tidy import explicit_imports, prune_imports, tidy_python


def _templates_dir() -> Path:
    """templates/ beside the package in a checkout, else the installed scorec.templates."""
    checkout = Path(__file__).resolve().parents[2] / "templates"
    if (checkout / "common.py.j2").is_file():
        return checkout
    from importlib.resources import files

    return Path(str(files("scorec.templates")))


# The run plumbing, the same for every spec: copied verbatim beside the programs, which import from it.
# In dependency order (each imports only from those before it): a program's imports follow it.
RUNTIME_MODULES = ("runtime.py", "runtime_parallel.py", "runtime_training.py", "runtime_sampling.py",
                   "runtime_trackers.py")


def runtime_file() -> Path:
    """templates/runtime.py: the module whose RunLock `scorec run` takes (it imports no sibling)."""
    return _templates_dir() / RUNTIME_MODULES[0]


@lru_cache(maxsize=1)
def runtime_sources() -> dict[str, str]:
    """{file name: text} of the runtime modules, emitted verbatim, in RUNTIME_MODULES' order."""
    return {name: (_templates_dir() / name).read_bytes().decode("utf-8") for name in RUNTIME_MODULES}


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
        "condition": None,  # an unconditional model's; a conditional one's node replaces it
        **{family: view(node) for family, node in ir.components().items()},
    }


def emit(ir: ProgramIR, spec: Spec | None = None, versions: dict | None = None) -> dict[str, str]:
    """Render every emitted file; returns {file name: text}. spec.lock.json records the resolved
    spec when given and the environment's `versions` (lockfile.installed_versions()) when given."""
    env = environment()
    view = view_model(ir)
    programs = ["common.py", "sample.py"] + (["train.py"] if ir.trains else [])
    programs += ["likelihood.py"] if ir.eval.likelihood is not None else []
    files = {name: tidy_python(prune_imports(env.get_template(name + ".j2").render(**view))) for name in programs}
    for name in programs[1:]:
        program = explicit_imports(files[name], "common", {"common": files["common.py"]})
        runtime = {Path(module).stem: source for module, source in runtime_sources().items()}
        files[name] = tidy_python(prune_imports(explicit_imports(program, "runtime", runtime, imports=False)))
    files.update(runtime_sources())
    resolved = spec.model_dump(mode="json") if spec is not None else None
    files[LOCK_NAME] = lock_text(ir, resolved, versions, files)
    return dict(sorted(files.items()))


def write_files(files: dict[str, str], out_dir: str | os.PathLike) -> list[Path]:
    """Write all files or none: render first (done), then write each atomically."""
    return [atomic_write_text(Path(out_dir) / name, text) for name, text in files.items()]


def ir_json(ir: ProgramIR) -> str:
    """The readable IR dump for `scorec ir`."""
    return json.dumps({"spec_hash": spec_hash(ir), **to_json(ir)}, indent=2)
