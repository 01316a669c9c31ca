"""The named compiler stages, each callable (and dumpable) on its own.

    load      spec file (+ --set overrides)  -> Document   (frontend/yaml_loader.py)
    validate  Document                       -> Spec       (validate.py, spec.py)
    lower     Spec                           -> ProgramIR  (lower/)
    emit      ProgramIR                      -> {file: text} (emit.py, templates/)

Nothing here imports torch: `scorec check` stays fast.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from .diagnostics import SpecError, SpecErrors
from .frontend.yaml_loader import Document, load_path
from .ir import ProgramIR
from .lower import lower
from .overrides import apply_overrides
from .spec import Spec
from .validate import validate


@dataclass
class Compiled:
    document: Document
    spec: Spec
    ir: ProgramIR
    notes: list[str] = field(default_factory=list)  # for the user, e.g. keys an override dropped


def source_texts(path: str | os.PathLike, overrides: list[str] | tuple[str, ...] = ()) -> dict[str, str]:
    """Every text a diagnostic may point into: the spec file and each --set override.

    Read here rather than taken from a Document: a load error comes before there is one.
    """
    texts = {f"--set #{i}": text for i, text in enumerate(overrides, start=1)}
    try:
        with open(path, "rb") as fh:
            texts[str(path)] = fh.read().decode("utf-8", errors="replace").removeprefix("\ufeff")
    except OSError:
        pass
    return texts


def load(path: str | os.PathLike, overrides: list[str] | tuple[str, ...] = ()) -> tuple[Document, list[str]]:
    if str(path).endswith(".score"):
        raise SpecError(
            f"cannot read '{path}': the .score language is not supported yet",
            None,
            "write the spec in YAML (spec.yaml); see spec_examples/",
        )
    return apply_overrides(load_path(path), overrides)


def compile_spec(path: str | os.PathLike, overrides: list[str] | tuple[str, ...] = ()) -> Compiled:
    """load -> validate -> lower; raises SpecError or SpecErrors, every error located."""
    doc, notes = load(path, overrides)
    spec = validate(doc)
    return Compiled(doc, spec, lower(spec, doc), notes)


def errors_of(exc: SpecError | SpecErrors) -> list[SpecError]:
    return list(exc.errors) if isinstance(exc, SpecErrors) else [exc]
