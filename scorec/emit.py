"""The emitter: IR -> standalone PyTorch programs, through jinja2 templates.

Templates (templates/ at the repository root; `scorec.templates` once installed) get a
flat view model built here: names, numbers already formatted as Python literals, and
every Expr already printed to torch code. They hold no logic beyond loops and ifs.
Output is a dict {file name: text}; the same IR always gives the same bytes.
"""

from __future__ import annotations

import ast
import json
import os
import tempfile
from functools import lru_cache
from pathlib import Path

import jinja2

from . import __version__
from . import expr as E
from .ir import ProgramIR, canonical_json, spec_hash, to_json, training_hash

ACTIVATION_MODULES = {"silu": "SiLU", "relu": "ReLU", "gelu": "GELU", "tanh": "Tanh"}


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
    )
    env.filters["py"] = py_literal
    return env


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


def torch_code(e: E.Expr, like: str = "t") -> str:
    """Print an Expr of t as torch code; a constant becomes a tensor shaped like `like`."""
    folded = E.fold(e)
    if isinstance(folded, E.Num):
        return f"torch.full_like({like}, {E.format_number(folded.value)})"
    return E.to_torch(folded)


def view_model(ir: ProgramIR) -> dict:
    """Everything the templates read, flat and pre-printed."""
    p = ir.process
    process = {
        "kind": p.kind,
        "equation": p.equation,
        "continuous": p.continuous,
    }
    if p.continuous:
        process.update(
            t_eps=E.format_number(p.t_eps),
            prior_std=E.format_number(p.prior_std),
            definitions=[
                {"name": d.name, "doc": d.doc, "code": torch_code(d.expr), "text": E.to_text(E.fold(d.expr))}
                for d in p.definitions
            ],
            drift_code=(
                "torch.zeros_like(x)"
                if E.fold(p.drift_coef) == E.Num(0.0)
                else f"bcast({E.to_torch(p.drift_coef)}, x) * x"
            ),
            drift_text=E.to_text(E.fold(p.drift_coef)) + " * x",
        )
    else:
        process.update(
            timesteps=p.timesteps,
            schedule=p.schedule,
            betas_code=E.to_torch(E.replace_var(p.betas, "N", E.num(p.timesteps))) if p.betas else None,
            alpha_bar_code=E.to_torch(p.alpha_bar) if p.alpha_bar else None,
            max_beta=E.format_number(p.max_beta),
        )
    o = ir.objective
    objective = {"kind": o.kind, "equation": o.equation, "weighting": o.weighting}
    if o.weight is not None:
        folded = E.fold(o.weight)
        objective["weight_code"] = E.format_number(folded.value) if isinstance(folded, E.Num) else E.to_torch(folded)
        objective["weight_text"] = E.to_text(o.weight)
    d = ir.data
    data = {
        "source": d.source,
        "n": d.n,
        "shape": py_literal(tuple(d.shape)),
        "noise": None if d.noise is None else E.format_number(d.noise),
        "weights": py_literal(list(d.weights)),
        "means": py_literal([list(m) for m in d.means]),
        "stds": py_literal(list(d.stds)),
    }
    m = ir.model
    model = {
        "parameterization": m.parameterization,
        "network": m.network,
        "hidden": py_literal(list(m.hidden)),
        "activation": m.activation,
        "activation_module": ACTIVATION_MODULES[m.activation],
        "time_embedding": m.time_embedding,
        "embedding_dim": m.embedding_dim,
    }
    s = ir.sample
    sample = {
        "sampler": s.sampler,
        "steps": s.steps,
        "n": s.n,
        "batch_size": s.batch_size,
        "denoise": s.denoise,
        "nfe": s.nfe,
        "grid": s.grid,
        "predictor": s.predictor,
        "corrector": s.corrector,
        "snr": None if s.corrector_snr is None else E.format_number(s.corrector_snr),
        "corrector_steps": s.corrector_steps,
        "method": s.method,
        "eta": None if s.eta is None else E.format_number(s.eta),
    }
    train = None
    if ir.train is not None:
        t = ir.train
        train = {
            "steps": t.steps,
            "batch_size": t.batch_size,
            "lr": E.format_number(t.lr),
            "warmup": t.warmup,
            "weight_decay": E.format_number(t.weight_decay),
            "grad_clip": None if t.grad_clip is None else E.format_number(t.grad_clip),
            "ema": E.format_number(t.ema),
            "precision": t.precision,
            "compile": t.compile,
            "checkpoint_every": t.checkpoint_every,
            "log_every": t.log_every,
        }
    return {
        "name": ir.name,
        "seed": ir.seed,
        "version": __version__,
        "spec_hash": spec_hash(ir),
        "training_hash": training_hash(ir),
        "data": data,
        "process": process,
        "model": model,
        "objective": objective,
        "train": train,
        "sample": sample,
        "eval": {"metrics": list(ir.eval.metrics), "n_reference": ir.eval.n_reference},
    }


def tidy_python(code: str) -> str:
    """Normalise blank lines of rendered Python to PEP 8, whatever the template whitespace.

    Two blank lines before a top-level def, class, decorator or attached comment, and
    before top-level code that follows an indented block; never more than two in a row.
    """
    out: list[str] = []
    last = ""  # the last non-blank line
    for line in (raw.rstrip() for raw in code.split("\n")):
        top = bool(line) and not line[0].isspace() and line[0] not in ")]}"
        starts_block = line.startswith(("def ", "class ", "@"))
        attached = bool(out) and out[-1] != "" and out[-1].startswith(("@", "#"))
        after_block = last[:1].isspace()
        if top and not attached and (starts_block or after_block) and last and not last.startswith('"""'):
            while out and out[-1] == "":
                out.pop()
            out += ["", ""]
        elif line == "" and out[-2:] == ["", ""]:
            continue
        out.append(line)
        if line:
            last = line
    return "\n".join(out).strip("\n") + "\n"


STAR_IMPORT = "from common import *"


def explicit_imports(program: str, common: str) -> str:
    """Replace the template's `from common import *` by the names the program uses.

    Templates need not track which of common.py's definitions each spec uses; the
    emitted program still says exactly where each name comes from (and linters can check it).
    """
    provided = _top_level_names(common)
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
    statement = "from common import (  # noqa: E402  (data, process, network, parameterization)\n" + "\n".join(lines) + "\n)"
    out = [statement if raw.startswith(STAR_IMPORT) else raw for raw in program.split("\n")]
    return "\n".join(out)


def _top_level_names(code: str) -> set[str]:
    """Names a module defines or imports at its top level."""
    names: set[str] = set()
    for node in ast.parse(code).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names |= {t.id for t in node.targets if isinstance(t, ast.Name)}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names |= {(a.asname or a.name).split(".")[0] for a in node.names if a.name != "*"}
    return names


def emit(ir: ProgramIR) -> dict[str, str]:
    """Render every emitted file; returns {file name: text}."""
    env = environment()
    view = view_model(ir)
    programs = ["common.py", "sample.py"] + (["train.py"] if ir.trains else [])
    files = {name: tidy_python(env.get_template(name + ".j2").render(**view)) for name in programs}
    for name in programs[1:]:
        files[name] = explicit_imports(files[name], files["common.py"])
    lock = {
        "scorec_version": __version__,
        "spec_hash": view["spec_hash"],
        "training_hash": view["training_hash"],
        "ir": json.loads(canonical_json(ir)),
    }
    files["spec.lock.json"] = json.dumps(lock, indent=2, sort_keys=True) + "\n"
    return dict(sorted(files.items()))


def write_files(files: dict[str, str], out_dir: str | os.PathLike) -> list[Path]:
    """Write all files or none: render first (done), then write each atomically."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in files.items():
        target = out / name
        fd, tmp = tempfile.mkstemp(dir=out, prefix=f".{name}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
                fh.write(text)
            os.replace(tmp, target)
        except BaseException:
            if os.path.exists(tmp):
                os.unlink(tmp)
            raise
        written.append(target)
    return written


def ir_json(ir: ProgramIR) -> str:
    """The readable IR dump for `scorec ir`."""
    return json.dumps({"spec_hash": spec_hash(ir), **to_json(ir)}, indent=2)
