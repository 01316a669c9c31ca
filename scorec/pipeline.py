"""The named compiler stages, each callable (and dumpable) on its own.

    load      spec file (+ --set overrides)  -> Document   (frontend/: yaml_loader.py, score_loader.py)
    validate  Document                       -> Spec       (schema/: validate.py, spec.py)
    lower     Spec                           -> ProgramIR  (lower/)
    emit      ProgramIR                      -> {file: text} (emit/, templates/)

Nothing here imports torch: `scorec check` stays fast.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from .core.diagnostics import SpecError, SpecErrors
from .core.hints import HintWords
from .core.ir import ProgramIR
from .frontend.source import Document, read_spec_file
from .frontend.yaml_loader import load_path
from .lower.passes import lower
from .schema.overrides import apply_overrides
from .schema.spec import Spec
from .schema.validate import validate


@dataclass
class Compiled:
    document: Document
    spec: Spec
    ir: ProgramIR
    notes: list[str] = field(default_factory=list)  # for the user, e.g. keys an override dropped

    def emitted(self) -> dict[str, str]:
        """The programs and the lock (with this machine's scorec/torch/numpy versions): {file: text}."""
        from .emit.lockfile import installed_versions
        from .emit.render import emit

        return emit(self.ir, self.spec, installed_versions())


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


def is_score(path: str | os.PathLike) -> bool:
    """Whether a spec file is written in the .score language (else YAML)."""
    return str(path).endswith(".score")


def load_document(path: str | os.PathLike) -> Document:
    """The spec file's Document, read by the loader of its format (by suffix)."""
    if not is_score(path):
        return load_path(path)
    from .frontend.score_loader import load_score
    from .schema.query import SPEC_LAYOUT

    return load_score(*read_spec_file(path), layout=SPEC_LAYOUT)


def load(path: str | os.PathLike, overrides: list[str] | tuple[str, ...] = ()) -> tuple[Document, list[str]]:
    return apply_overrides(load_document(path), overrides)


def compile_spec(path: str | os.PathLike, overrides: list[str] | tuple[str, ...] = (),
                 checking: bool = False) -> Compiled:
    """load -> validate -> lower; raises SpecError or SpecErrors, every error located.

    checking: validate only (see lower.lower); the IR then may differ from the emitted one."""
    doc, notes = load(path, overrides)
    spec = validate(doc)
    return Compiled(doc, spec, lower(spec, doc, checking), notes)


def hint_words(path: str | os.PathLike) -> HintWords:
    """How hints write their fixes for the spec at `path`: in the syntax of its own format."""
    from .frontend.hint_words import ScoreWords, YamlWords
    from .schema.query import SPEC_LAYOUT

    return (ScoreWords if is_score(path) else YamlWords)(SPEC_LAYOUT)


def errors_of(exc: SpecError | SpecErrors) -> list[SpecError]:
    return list(exc.errors) if isinstance(exc, SpecErrors) else [exc]
