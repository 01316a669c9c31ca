"""Load a YAML spec into plain Python data plus a source map.

Specs are user-written files, so the loader is deliberately small and strict:

* It reads ruamel.yaml's *event stream* and builds the data itself. Nothing is ever
  constructed from a tag, and anchors/aliases are refused when their event is seen,
  before any node could be shared or expanded (no billion-laughs blow-up).
* Scalars are resolved with the YAML 1.2 core schema by this module, so `1e-4` is a
  float and `yes`/`on` stay strings, whatever ruamel's resolver thinks.
* Every mapping key and value gets a :class:`Span`, so later stages (schema, lowering)
  can point at the exact place in the file.
* Every problem becomes a :class:`SpecError`; no ruamel exception escapes.

`apply_override` implements `--set section.field=value` on a loaded document, keeping
spans that point into the override text.
"""

from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass, field, replace
from typing import Any, Iterator

from ..diagnostics import Span, SpecError, SpecErrors


_SET_HINT = "the form is `--set section.field=value`, e.g. `--set sample.steps=50`"


@dataclass
class Document:
    """A loaded spec: plain data and where each part of it came from."""

    data: dict
    source: str
    file: str
    key_spans: dict[tuple, Span] = field(default_factory=dict)
    value_spans: dict[tuple, Span] = field(default_factory=dict)
    text_offsets: dict[tuple, int] = field(default_factory=dict)
    extra_sources: dict[str, str] = field(default_factory=dict)

    def span_of(self, path: tuple, key: bool = False) -> Span:
        """Span of `path`'s value (or key); unknown paths fall back to the nearest ancestor.

        The fallback matters for errors about *missing* fields: they are reported at the
        section that should have contained them.
        """
        path = tuple(path)
        if key and path in self.key_spans:
            return self.key_spans[path]
        while path:
            if path in self.value_spans:
                return self.value_spans[path]
            path = path[:-1]
        return Span(self.file, 1, 1)

    def text_span(self, path: tuple) -> Span | None:
        """Span of the first character of a string scalar's content.

        Used to locate errors inside expression strings. None when the string spans
        several lines or contains escapes (columns inside it would not match the text);
        callers then fall back to :meth:`span_of`.
        """
        path = tuple(path)
        if path not in self.text_offsets or path not in self.value_spans:
            return None
        span = self.value_spans[path]
        offset = self.text_offsets[path]
        end = span.end_col - offset if span.end_col is not None else None
        return Span(span.file, span.line, span.col + offset, span.line if end else None, end)

    def sources(self) -> dict[str, str]:
        """All texts spans may point into, for :func:`scorec.diagnostics.render`."""
        return {self.file: self.source, **self.extra_sources}


# ---------------------------------------------------------------------------- scalars

# YAML 1.2 core schema (https://yaml.org/spec/1.2.2/#1032-tag-resolution).
_NULL = re.compile(r"null|Null|NULL|~|")
_TRUE = re.compile(r"true|True|TRUE")
_FALSE = re.compile(r"false|False|FALSE")
_INT10 = re.compile(r"[-+]?[0-9]+")
_INT8 = re.compile(r"0o[0-7]+")
_INT16 = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?")
_INF = re.compile(r"[-+]?\.(inf|Inf|INF)")
_NAN = re.compile(r"\.(nan|NaN|NAN)")


def resolve_plain(text: str) -> Any:
    """Value of a plain (unquoted) scalar under the YAML 1.2 core schema."""
    if _NULL.fullmatch(text):
        return None
    if _TRUE.fullmatch(text):
        return True
    if _FALSE.fullmatch(text):
        return False
    if _INT10.fullmatch(text):
        return int(text) if len(text) < 4000 else float(text)  # int() refuses huge digit strings
    if _INT8.fullmatch(text):
        return int(text[2:], 8)
    if _INT16.fullmatch(text):
        return int(text[2:], 16)
    if _FLOAT.fullmatch(text):
        return float(text)
    if _INF.fullmatch(text):
        return float("-inf") if text.startswith("-") else float("inf")
    if _NAN.fullmatch(text):
        return float("nan")
    return text


def _describe(value: Any) -> str:
    """How a YAML value reads to a user, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return "a string"


# ---------------------------------------------------------------------------- decoding


def _decode(raw: bytes, file: str) -> str:
    """UTF-8 decode, locating the first bad byte by line and column."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        line_start = before.rfind(b"\n") + 1
        col = len(before[line_start:].decode("utf-8", errors="replace")) + 1
        if line == 1 and raw.startswith(b"\xef\xbb\xbf"):
            col -= 1  # the BOM is not a column
        raise SpecError(
            "file is not valid UTF-8",
            Span(file, line, col, line, col + 1),
            f"byte 0x{raw[exc.start]:02x} cannot start or continue a UTF-8 character; "
            "save the spec as UTF-8",
        ) from None


def _position(text: str, index: int) -> tuple[int, int]:
    """1-based (line, col) of a character index."""
    index = max(0, min(index, len(text)))
    line = text.count("\n", 0, index) + 1
    col = index - (text.rfind("\n", 0, index) + 1) + 1
    return line, col


# ---------------------------------------------------------------------------- events


def _events(text: str, file: str, where: "_Marks") -> Iterator[Any]:
    """ruamel.yaml parse events for `text`, with every ruamel error made a SpecError."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import MarkedYAMLError, YAMLError
    from ruamel.yaml.reader import ReaderError

    try:
        yield from YAML(typ="safe", pure=True).parse(text)
    except MarkedYAMLError as exc:
        raise _syntax_error(exc, text, where) from None
    except ReaderError as exc:
        line, col = _position(text, exc.position)
        char = exc.character if isinstance(exc.character, int) else 0
        raise SpecError(
            f"invalid YAML: unacceptable character U+{char:04X}",
            where.at_line_col(line, col),
            "remove the control character",
        ) from None
    except YAMLError as exc:  # unmarked ruamel errors: still no traceback
        raise SpecError(f"invalid YAML: {_first_line(str(exc))}", where.at_line_col(1, 1)) from None
    except RecursionError:
        raise SpecError("invalid YAML: nested too deeply", where.at_line_col(1, 1)) from None


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else "syntax error"


def _syntax_error(exc: Any, text: str, where: "_Marks") -> SpecError:
    """A readable, located message from ruamel's (problem, problem_mark, context)."""
    problem = exc.problem or exc.context or "syntax error"
    mark = exc.problem_mark or exc.context_mark
    if mark is None:
        span = where.at_line_col(1, 1)
    elif mark.index >= len(text.rstrip()):  # "end of stream": point after the last text
        span = where.at_line_col(*_position(text, len(text.rstrip())))
    else:
        span = where.mark(mark)
    hint = None
    if exc.context and exc.context_mark is not None and exc.problem:
        hint = f"{exc.context} started on line {where.mark(exc.context_mark).line}"
    if "\t" in problem or "\\t" in problem or "tab" in problem.lower():
        hint = "YAML indentation must use spaces, not tabs"
    return SpecError(f"invalid YAML: {problem}", span, hint)


@dataclass
class _Marks:
    """Turns ruamel marks (0-based) into Spans; `col_shift` places a value inside `--set` text."""

    file: str
    col_shift: int = 0

    def at_line_col(self, line: int, col: int, end_col: int | None = None) -> Span:
        shift = self.col_shift if line == 1 else 0
        end = end_col + shift if end_col is not None else None
        return Span(self.file, line, col + shift, line if end else None, end)

    def mark(self, mark: Any) -> Span:
        return self.at_line_col(mark.line + 1, mark.column + 1)

    def node(self, start: Any, end: Any) -> Span:
        """Start of a node; its end column too where it ends on the same line."""
        if end is not None and end.line == start.line and end.column > start.column:
            return self.at_line_col(start.line + 1, start.column + 1, end.column + 1)
        return self.mark(start)


# ---------------------------------------------------------------------------- building

_DISCARD = object()  # placeholder key for a mapping entry whose key was rejected


@dataclass
class _Frame:
    """A mapping or sequence being built."""

    value: Any  # dict or list
    path: tuple | None  # None: inside a rejected key, nothing is recorded
    start_span: Span
    key: Any = None  # pending key of a mapping: None (expecting a key), str or _DISCARD
    key_is_pending: bool = False
    first_line: dict = field(default_factory=dict)  # key -> line of its first occurrence


class _Builder:
    """Builds plain data and spans from one YAML node's events (iteratively: no recursion)."""

    def __init__(self, text: str, marks: _Marks, doc: Document):
        self.text = text
        self.marks = marks
        self.doc = doc
        self.errors: list[SpecError] = []

    def build(self, events: Iterator[Any], first: Any) -> Any:
        """Consume the events of the node starting with `first`; return its value."""
        from ruamel.yaml.events import (
            AliasEvent,
            CollectionEndEvent,
            MappingStartEvent,
            ScalarEvent,
            SequenceStartEvent,
        )

        stack: list[_Frame] = []
        event = first
        while True:
            self._check_node_properties(event, AliasEvent)
            if isinstance(event, CollectionEndEvent):
                frame = stack.pop()
                done = (frame.value, frame.start_span, None)
            elif isinstance(event, (MappingStartEvent, SequenceStartEvent)):
                path = self._child_path(stack)
                span = self.marks.node(event.start_mark, event.end_mark)
                self._record_value(path, span)
                empty: Any = {} if isinstance(event, MappingStartEvent) else []
                stack.append(_Frame(empty, path, span))
                event = next(events)
                continue
            else:  # scalar or (rejected) alias
                done = self._scalar(event) if isinstance(event, ScalarEvent) else (
                    None, self.marks.node(event.start_mark, event.end_mark), None)
            if not stack:
                if not isinstance(done[0], (dict, list)):
                    self._record_value((), done[1], done[2])
                return done[0]
            self._attach(stack, *done)
            event = next(events)

    # -- node checks

    def _check_node_properties(self, event: Any, alias_type: type) -> None:
        """Tags, anchors and aliases are refused where they are written."""
        if isinstance(event, alias_type):
            self.errors.append(SpecError(
                "anchors and aliases are not allowed in specs",
                self.marks.node(event.start_mark, event.end_mark),
                "write the value out in full",
            ))
            return
        if getattr(event, "tag", None) is not None:
            self.errors.append(SpecError(
                "tags are not allowed in specs",
                self._token_span(event.start_mark, "!"),
                "remove the tag; values are typed by the spec schema",
            ))
        if getattr(event, "anchor", None) is not None:
            self.errors.append(SpecError(
                "anchors and aliases are not allowed in specs",
                self._token_span(event.start_mark, "&"),
                "write the value out in full",
            ))

    def _token_span(self, mark: Any, sigil: str) -> Span:
        """Span of the `!tag` or `&anchor` token, searched from the node's start."""
        start = self.text.find(sigil, mark.index)
        line_end = self.text.find("\n", mark.index)
        if start < 0 or (line_end >= 0 and start > line_end):
            return self.marks.mark(mark)
        end = start
        while end < len(self.text) and not self.text[end].isspace():
            end += 1
        line, col = _position(self.text, start)
        return self.marks.at_line_col(line, col, col + (end - start))

    def _raw(self, span: Span) -> str:
        """The source text under a single-line span (undoing a `--set` column shift)."""
        lines = self.text.splitlines()
        if span.line > len(lines):
            return ""
        shift = self.marks.col_shift if span.line == 1 else 0
        start = span.col - 1 - shift
        end = (span.end_col or span.col + 1) - 1 - shift
        return lines[span.line - 1][start:end]

    # -- scalars

    def _scalar(self, event: Any) -> tuple[Any, Span, int | None]:
        """(value, span, text offset) of a scalar event."""
        span = self.marks.node(event.start_mark, event.end_mark)
        plain = event.style is None and getattr(event, "tag", None) is None
        value = resolve_plain(event.value) if plain else event.value
        offset = self._text_offset(event, value)
        return value, span, offset

    def _text_offset(self, event: Any, value: Any) -> int | None:
        """Columns from the scalar's start to its content, when the raw text is the content."""
        if not isinstance(value, str) or event.start_mark.line != event.end_mark.line:
            return None
        if getattr(event, "tag", None) is not None or getattr(event, "anchor", None) is not None:
            return None
        offset = {None: 0, "'": 1, '"': 1}.get(event.style)
        if offset is None:
            return None
        raw = self.text[event.start_mark.index + offset: event.end_mark.index - offset]
        return offset if raw == value else None

    # -- structure

    @staticmethod
    def _child_path(stack: list[_Frame]) -> tuple | None:
        """Path of the node about to start (None inside a key or a rejected entry)."""
        if not stack:
            return ()
        top = stack[-1]
        if top.path is None:
            return None
        if isinstance(top.value, list):
            return top.path + (len(top.value),)
        if not top.key_is_pending or top.key is _DISCARD:
            return None  # a key node, or the value of a rejected key
        return top.path + (top.key,)

    def _record_value(self, path: tuple | None, span: Span, offset: int | None = None) -> None:
        if path is None:
            return
        self.doc.value_spans[path] = span
        if offset is not None:
            self.doc.text_offsets[path] = offset

    def _attach(self, stack: list[_Frame], value: Any, span: Span, offset: int | None) -> None:
        """Put a finished node into its parent: a list item, a mapping key or a value."""
        top = stack[-1]
        scalar = not isinstance(value, (dict, list))  # collections recorded at their start
        if isinstance(top.value, list):
            if top.path is not None and scalar:
                self._record_value(top.path + (len(top.value),), span, offset)
            top.value.append(value)
            return
        if not top.key_is_pending:
            top.key = self._check_key(top, value, span)
            top.key_is_pending = True
            return
        if top.key is not _DISCARD:
            if top.path is not None and scalar:
                self._record_value(top.path + (top.key,), span, offset)
            top.value[top.key] = value
        top.key, top.key_is_pending = None, False

    def _check_key(self, frame: _Frame, key: Any, span: Span) -> Any:
        """A valid, new string key, or _DISCARD after recording why not."""
        if not isinstance(key, str):
            shown = "" if key is None or isinstance(key, (dict, list)) else f" {key!r}"
            self.errors.append(SpecError(
                f"mapping keys must be strings, not {_describe(key)}{shown}",
                span,
                f"quote the key if it is meant as text: '{self._raw(span)}':"
                if not isinstance(key, (dict, list)) and key is not None else None,
            ))
            return _DISCARD
        if key in frame.first_line:
            self.errors.append(SpecError(
                f"duplicate key '{key}'",
                span,
                f"'{key}' is first defined on line {frame.first_line[key]}",
            ))
            return _DISCARD
        frame.first_line[key] = span.line
        if frame.path is not None:
            self.doc.key_spans[frame.path + (key,)] = span
        return key


def _raise(errors: list[SpecError]) -> None:
    """Raise one error as SpecError, several as SpecErrors in source order."""
    if not errors:
        return
    errors = _collapse_repeats(sorted(errors, key=lambda e: (e.span.line, e.span.col) if e.span else (0, 0)))
    raise errors[0] if len(errors) == 1 else SpecErrors(errors)


def _collapse_repeats(errors: list[SpecError]) -> list[SpecError]:
    """Show one of many identical complaints (twenty aliases are one mistake), with a count."""
    counts: dict[str, int] = {}
    for e in errors:
        counts[e.message] = counts.get(e.message, 0) + 1
    out, shown = [], set()
    for e in errors:
        if e.message in shown:
            continue
        shown.add(e.message)
        if counts[e.message] > 1:
            more = counts[e.message] - 1
            note = f"{more} more like it below"
            e = SpecError(e.message, e.span, f"{e.hint}; {note}" if e.hint else note)
        out.append(e)
    return out


# ---------------------------------------------------------------------------- loading

_EMPTY_HINT = "a spec starts with `scorec: 1`"


def load_yaml(text: str | bytes, file: str) -> Document:
    """Parse a spec's text into a :class:`Document` (raises SpecError / SpecErrors)."""
    if isinstance(text, bytes):
        text = _decode(text, file)
    if text.startswith("\ufeff"):
        text = text[1:]
    _check_size(text, file)
    doc = Document(data={}, source=text, file=file)
    marks = _Marks(file)
    builder = _Builder(text, marks, doc)
    root, root_event = _single_document(_events(text, file, marks), builder, marks)
    _raise(builder.errors)
    if root_event is None or (root is None and getattr(root_event, "value", None) == "" and root_event.style is None):
        raise SpecError("the spec is empty", Span(file, 1, 1), _EMPTY_HINT)
    if not isinstance(root, dict):
        raise SpecError(
            f"a spec must be a mapping of sections, not {_describe(root)}",
            marks.node(root_event.start_mark, root_event.end_mark),
            _EMPTY_HINT + ", followed by sections such as `process:` and `sample:`",
        )
    doc.data = root
    return doc


MAX_SPEC_CHARS = 1_000_000
MAX_FLOW_DEPTH = 64


def _check_size(text: str, file: str) -> None:
    """Refuse huge files and deep flow nesting up front: ruamel's parser is quadratic in depth."""
    if len(text) > MAX_SPEC_CHARS:
        raise SpecError(f"the spec is {len(text):,} characters long; the limit is {MAX_SPEC_CHARS:,}",
                        Span(file, 1, 1), "a spec is a short file; keep data in data files")
    depth, quote, line, col = 0, None, 1, 0
    for ch in text:
        col += 1
        if ch == "\n":
            line, col = line + 1, 0
            if quote is None:
                continue
        if quote:
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#":
            quote = "\n"  # a comment runs to the end of the line
        elif ch in "[{":
            depth += 1
            if depth > MAX_FLOW_DEPTH:
                raise SpecError(f"brackets nested more than {MAX_FLOW_DEPTH} deep",
                                Span(file, line, col, line, col + 1),
                                "a spec needs a few levels at most")
        elif ch in "]}":
            depth = max(0, depth - 1)


def _single_document(events: Iterator[Any], builder: _Builder, marks: _Marks) -> tuple[Any, Any]:
    """(root value, root's first event) of the only document; a second one is an error."""
    from ruamel.yaml.events import DocumentStartEvent, NodeEvent, StreamEndEvent

    root, root_event, seen_document = None, None, False
    for event in events:
        if isinstance(event, DocumentStartEvent):
            if seen_document:
                raise SpecError(
                    "a spec file holds one YAML document, found a second one",
                    marks.mark(event.start_mark),
                    "remove the `---` separator and everything after it, or split the file",
                )
            seen_document = True
        elif isinstance(event, NodeEvent) and root_event is None:
            root_event = event
            root = builder.build(events, event)
        elif isinstance(event, StreamEndEvent):
            break
    return root, root_event


def load_path(path: str | os.PathLike) -> Document:
    """Load a spec file; spans name the file as given."""
    name = os.fspath(path)
    try:
        with open(name, "rb") as fh:
            raw = fh.read()
    except OSError as exc:
        raise SpecError(f"cannot read spec file '{name}': {exc.strerror or exc}") from None
    return load_yaml(raw, name)


# ---------------------------------------------------------------------------- --set

_SEGMENT = re.compile(r"[^\s.=]+")


def apply_override(doc: Document, override: str, index: int) -> Document:
    """A new Document with `--set key.path=value` applied; spans point into the override."""
    file = f"--set #{index}"
    whole = Span(file, 1, 1, 1, max(2, len(override) + 1))
    if "\n" in override:
        raise SpecError("an override must be on one line", whole, _SET_HINT)
    if "=" not in override:
        raise SpecError(f"override '{override}' has no '='", whole, _SET_HINT)
    path_text, value_text = override.split("=", 1)
    segments = _parse_segments(path_text, file)
    value_col = len(path_text) + 2
    value, value_doc = _parse_value(value_text, file, value_col)

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
        raise SpecError("override has an empty path before '='", Span(file, 1, 1, 1, 2), _SET_HINT)
    segments = []
    col = 1
    for raw in path_text.split("."):
        if not _SEGMENT.fullmatch(raw):
            what = "an empty part" if raw == "" else f"a bad part '{raw}'"
            raise SpecError(
                f"override path '{path_text}' has {what}",
                Span(file, 1, col, 1, col + max(1, len(raw))),
                _SET_HINT,
            )
        segments.append((raw, Span(file, 1, col, 1, col + len(raw))))
        col += len(raw) + 1
    return segments


def _parse_value(text: str, file: str, col: int) -> tuple[Any, Document]:
    """The override's value: one YAML scalar or flow collection, spans shifted into place."""
    value_doc = Document(data={}, source=text, file=file)
    marks = _Marks(file, col_shift=col - 1)
    builder = _Builder(text, marks, value_doc)
    try:
        value, first = _single_document(_events(text, file, marks), builder, marks)
    except SpecError as exc:
        raise _with_set_hint(exc) from None
    _raise([_with_set_hint(e) for e in builder.errors])
    flow = getattr(first, "flow_style", True)
    if first is not None and isinstance(value, (dict, list)) and not flow:
        raise SpecError(
            "an override value must be a single value or a flow list like [1, 2]",
            marks.mark(first.start_mark),
            _SET_HINT,
        )
    if first is None:  # `key=` sets null
        value_doc.value_spans[()] = Span(file, 1, col)
    return value, value_doc


def _with_set_hint(error: SpecError) -> SpecError:
    """The error with the `--set` form appended to its hint."""
    return replace(error, hint=f"{error.hint}; {_SET_HINT}" if error.hint else _SET_HINT)


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
                )
            key: Any = int(name)
        elif isinstance(node, dict):
            key = name
        else:
            raise SpecError(
                f"cannot set '{name}' inside '{'.'.join(map(str, path))}', which is "
                f"{_describe(node)}, not a section",
                span,
                _SET_HINT,
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
