"""Helpers to compile specs and import the emitted programs in-process.

The emitted train.py and sample.py import from `common` and the runtime modules (runtime,
runtime_parallel, ...); to import several compiled directories in one test session, each
directory's modules are loaded under unique module names and registered under their own names
only while their siblings are imported.
"""

from __future__ import annotations

import importlib.util
import itertools
import sys
from pathlib import Path
from types import SimpleNamespace

from scorec.emit.render import RUNTIME_MODULES, emit, write_files
from scorec.frontend.yaml_loader import load_yaml
from scorec.lower.passes import lower
from scorec.schema.overrides import apply_overrides
from scorec.schema.validate import validate

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "spec_examples"
_counter = itertools.count()
RUNTIME = tuple(Path(name).stem for name in RUNTIME_MODULES)  # in dependency order


def compile_text(text: str, overrides=(), file: str = "spec.yaml"):
    """YAML text (+ overrides) -> IR, through the real pipeline stages."""
    doc, _ = apply_overrides(load_yaml(text, file), overrides)
    return lower(validate(doc), doc)


def compile_file(path, overrides=()):
    return compile_text(Path(path).read_text(), overrides, file=str(path))


def _load(name: str, path: Path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # torch.compile looks functions' modules up by name
    spec.loader.exec_module(module)
    return module


def load_siblings(folder, names, tag) -> tuple[dict, dict]:
    """({name: module} of folder/<name>.py, {name: what sys.modules held before}) for `names` in
    dependency order, each loaded under a unique name with the ones before it registered under their
    own names (the runtime modules import each other by name); they stay registered until restore()."""
    saved = {name: sys.modules.get(name) for name in names}
    modules = {}
    for name in names:
        modules[name] = _load(f"scorec_emitted_{name}_{tag}", Path(folder) / f"{name}.py")
        sys.modules[name] = modules[name]
    return modules, saved


def restore(saved: dict) -> None:
    """Give sys.modules back what load_siblings found there."""
    for name, module in saved.items():
        if module is None:
            sys.modules.pop(name, None)
        else:
            sys.modules[name] = module


def import_programs(code_dir) -> SimpleNamespace:
    """Import the runtime modules, common.py, sample.py and (if present) train.py and likelihood.py of one
    compiled directory (likelihood.py imports sample.py's load_network)."""
    code_dir = Path(code_dir)
    tag = next(_counter)
    modules, saved = load_siblings(code_dir, (*RUNTIME, "common"), tag)
    saved["sample"] = sys.modules.get("sample")

    def optional(name):
        return _load(f"scorec_emitted_{name}_{tag}", code_dir / f"{name}.py") if (code_dir / f"{name}.py").exists() \
            else None

    try:
        sample = _load(f"scorec_emitted_sample_{tag}", code_dir / "sample.py")
        sys.modules["sample"] = sample
        train, likelihood = optional("train"), optional("likelihood")
    finally:
        restore(saved)
    return SimpleNamespace(**modules, sample=sample, train=train, likelihood=likelihood, dir=code_dir)


def build(ir, out_dir) -> SimpleNamespace:
    """Emit the IR into out_dir/code and import the programs."""
    code_dir = Path(out_dir) / "code"
    write_files(emit(ir), code_dir)
    return import_programs(code_dir)
