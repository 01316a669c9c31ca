"""`--set` overrides, applied to a loaded Document.

`apply_override` sets `section.field=value` on a copy of the document; the value is
YAML (a scalar or a flow collection) parsed under the same limits as a spec file, and
spans of the path and the value point into the override text (`--set #N`).

`--set sample.sampler=em` on a spec whose sample section configures `pc` would leave
`corrector:` behind, a key `em` does not take. When an override switches a section's
variant (its `kind`, `source` or `sampler`), the section's keys that the new variant
does not accept are dropped, and a note says so: the user asked for the switch.
"""

from __future__ import annotations

import copy
import re
from dataclasses import replace
from typing import Any

from ..core.diagnostics import LINE_BREAK, Span, SpecError, SpecErrors, kind_of
from ..core.hints import hint
from ..frontend.source import Document
from ..frontend.yaml_loader import check_text, parse
from .query import TAG_FIELDS, model_at
from .spec import fill_defaults


def apply_overrides(doc: Document, overrides: list[str] | tuple[str, ...]) -> tuple[Document, list[str]]:
    """Apply each `key.path=value` in order; returns the document and notes for the user."""
    paths = {}
    for index, text in enumerate(overrides, start=1):
        doc = apply_override(doc, text, index)
        paths[tuple(text.split("=", 1)[0].strip().split("."))] = text
    notes = []
    for path, text in paths.items():
        if path and path[-1] in TAG_FIELDS:
            notes += _drop_foreign_keys(doc, path[:-1], f"--set {text}", set(paths))
    return doc, notes


def _drop_foreign_keys(doc: Document, section: tuple, why: str, overridden: set[tuple]) -> list[str]:
    node = doc.data
    for key in section:
        node = node.get(key) if isinstance(node, dict) else None
    model = model_at(section, fill_defaults(doc.data))
    if not isinstance(node, dict) or model is None:
        return []

    def set_by_user(key: str) -> bool:
        return any(p[: len(section) + 1] == section + (key,) for p in overridden)

    foreign = [k for k in node if k not in model.model_fields and not set_by_user(k)]
    for key in foreign:
        del node[key]
    return [f"{why} drops {'.'.join(section + (k,))}, which the new choice does not take" for k in foreign]


_SET_HINT = "the form is `--set section.field=value`, e.g. `--set sample.steps=50`"
_SEGMENT = re.compile(r"[^\s.=]+")


def apply_override(doc: Document, override: str, index: int) -> Document:
    """A new Document with `--set key.path=value` applied; spans point into the override."""
    file = f"--set #{index}"
    whole = Span(file, 1, 1, 1, max(2, len(override) + 1))
    if LINE_BREAK.search(override):
        raise SpecError("an override must be on one line", whole, _SET_HINT, code="E0601")
    try:
        check_text(override, file)  # the whole text: the path part is echoed in messages
    except SpecError as exc:
        raise _with_set_hint(exc) from None
    if "=" not in override:
        raise SpecError(f"override '{override}' has no '='", whole, _SET_HINT, code="E0601")
    path_text, value_text = override.split("=", 1)
    segments = _parse_segments(path_text, file)
    value, value_doc = _parse_value(value_text, file, len(path_text) + 2)

    new = Document(
        data=copy.deepcopy(doc.data),
        source=doc.source,
        file=doc.file,
        key_spans=dict(doc.key_spans),
        value_spans=dict(doc.value_spans),
        text_offsets=dict(doc.text_offsets),
        extra_sources={**doc.extra_sources, file: override},
    )
    path = _set_path(new, segments, value)
    _replace_spans(new, path, segments, value_doc)
    return new


def _parse_segments(path_text: str, file: str) -> list[tuple[str, Span]]:
    """Split `a.b.0` into segments with their spans in the override text."""
    if not path_text.strip():
        raise SpecError("override has an empty path before '='", Span(file, 1, 1, 1, 2), _SET_HINT, code="E0601")
    segments = []
    col = 1
    for raw in path_text.split("."):
        if not _SEGMENT.fullmatch(raw):
            what = "an empty part" if raw == "" else f"a bad part '{raw}'"
            raise SpecError(
                f"override path '{path_text}' has {what}",
                Span(file, 1, col, 1, col + max(1, len(raw))),
                _SET_HINT,
                code="E0601",
            )
        segments.append((raw, Span(file, 1, col, 1, col + len(raw))))
        col += len(raw) + 1
    return segments


def _parse_value(text: str, file: str, col: int) -> tuple[Any, Document]:
    """The override's value: one YAML scalar or flow collection, spans shifted into place."""
    try:
        value, node, value_doc = parse(text, file, col_shift=col - 1)
    except SpecError as exc:
        raise _with_set_hint(exc) from None
    except SpecErrors as many:
        raise SpecErrors([_with_set_hint(e) for e in many.errors]) from None
    if node is None:  # `key=` sets null
        value_doc.value_spans[()] = Span(file, 1, col)
    elif isinstance(value, (dict, list)) and not node.flow_style:
        raise SpecError(
            "an override value must be a single value or a flow list like [1, 2]",
            value_doc.value_spans[()],
            _SET_HINT,
            code="E0601",
        )
    return value, value_doc


def _with_set_hint(error: SpecError) -> SpecError:
    """The error with the `--set` form appended to its hint."""
    return replace(error, hint=hint(error.hint, "; ", _SET_HINT) if error.hint else _SET_HINT)


def _set_path(doc: Document, segments: list[tuple[str, Span]], value: Any) -> tuple:
    """Store `value` at the segments' path, creating missing mappings; return the path."""
    node: Any = doc.data
    path: tuple = ()
    for i, (name, span) in enumerate(segments):
        last = i == len(segments) - 1
        if isinstance(node, list):
            if not name.isdigit() or int(name) >= len(node):
                raise SpecError(
                    f"'{'.'.join(map(str, path)) or 'the spec'}' is a list of {len(node)} items;"
                    f" '{name}' is not an index into it",
                    span,
                    f"use an index from 0 to {len(node) - 1}; {_SET_HINT}" if node else _SET_HINT,
                    code="E0602",
                )
            key: Any = int(name)
        elif isinstance(node, dict):
            key = name
        else:
            raise SpecError(
                f"cannot set '{name}' inside '{'.'.join(map(str, path))}', which is "
                f"{kind_of(node)}, not a section",
                span,
                _SET_HINT,
                code="E0602",
            )
        path += (key,)
        if last:
            node[key] = value
        else:
            if isinstance(node, dict) and key not in node:
                node[key] = {}
            node = node[key]
    return path


def _replace_spans(doc: Document, path: tuple, segments: list, value_doc: Document) -> None:
    """Forget spans of the replaced subtree; point the path and its new value at the override."""
    n = len(path)
    for table in (doc.key_spans, doc.value_spans, doc.text_offsets):
        for p in [p for p in table if p[:n] == path]:
            del table[p]
    for i in range(1, n + 1):  # intermediate sections created by the override
        if path[:i] not in doc.value_spans or i == n:
            doc.key_spans[path[:i]] = segments[i - 1][1]
        if path[:i] not in doc.value_spans and i < n:
            doc.value_spans[path[:i]] = segments[i - 1][1]
    for table, source in ((doc.key_spans, value_doc.key_spans),
                          (doc.value_spans, value_doc.value_spans),
                          (doc.text_offsets, value_doc.text_offsets)):
        for p, item in source.items():
            table[path + p] = item
