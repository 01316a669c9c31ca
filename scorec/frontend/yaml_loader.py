"""Load a YAML spec into plain Python data plus a source map.

Specs are user-written files, so the loader is small and strict. ruamel.yaml composes
the node graph; this module only walks it:

* A composer subclass notes tags, anchors and aliases where they are written and never
  looks an alias up, so nothing is shared or expanded (no billion-laughs blow-up).
* Plain scalars are resolved with the YAML 1.2 core schema (:func:`resolve_plain`):
  `1e-4` is a float, `yes`/`on` stay strings. ruamel's 1.2 resolver differs (`1_000`).
* Every mapping key and value gets a :class:`Span`, computed from the character index
  of ruamel's marks with the same line breaks the diagnostics use to show a line.
* Every problem becomes a :class:`SpecError`; no ruamel exception escapes.

`--set` overrides live in :mod:`scorec.overrides`; they parse their values with
:func:`parse`, under the same limits.
"""

from __future__ import annotations

import bisect
import os
import re
from collections import Counter
from dataclasses import dataclass, field, replace
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer, ComposerError, MaxDepthExceededError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent
from ruamel.yaml.nodes import ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.scanner import Scanner, ScannerError

from ..core.diagnostics import LINE_BREAK, Span, SpecError, SpecErrors, kind_of


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

# Python refuses to turn integers of more than 4300 digits into text (or back), so a
# bigger one would crash the first message or JSON file that shows it.
MAX_INT_DIGITS = 4000
_MAX_INT = 10**MAX_INT_DIGITS


def resolve_plain(text: str) -> Any:
    """Value of a plain (unquoted) scalar under the YAML 1.2 core schema.

    Raises ValueError for an integer of more than MAX_INT_DIGITS decimal digits.
    """
    if _NULL.fullmatch(text):
        return None
    if _TRUE.fullmatch(text):
        return True
    if _FALSE.fullmatch(text):
        return False
    for pattern, base, skip in ((_INT10, 10, 0), (_INT8, 8, 2), (_INT16, 16, 2)):
        if pattern.fullmatch(text):
            if base == 10 and len(text.lstrip("+-")) > MAX_INT_DIGITS:
                raise ValueError("integer too large")
            value = int(text[skip:], base)  # bases 8 and 16 convert in linear time
            if abs(value) >= _MAX_INT:
                raise ValueError("integer too large")
            return value
    if _FLOAT.fullmatch(text):
        return float(text)
    if _INF.fullmatch(text):
        return float("-inf") if text.startswith("-") else float("inf")
    if _NAN.fullmatch(text):
        return float("nan")
    return text


# ---------------------------------------------------------------------------- positions

MAX_TEXT_CHARS = 1_000_000
MAX_DEPTH = 64
_SEPARATOR = re.compile("[\x85\u2028\u2029]")
_TOKEN = re.compile(r"[^\s,\[\]{}]*")  # a tag, anchor or alias ends at a blank or flow indicator


class _Text:
    """One text a user handed in, turning character indexes into Spans.

    Lines end at \\n, \\r\\n or \\r, as in YAML 1.2 and in the diagnostics that show
    them; `col_shift` places a text that starts mid-line (a `--set` value).
    """

    def __init__(self, text: str, file: str, col_shift: int = 0):
        self.text, self.file, self.col_shift = text, file, col_shift
        self.starts = [0] + [m.end() for m in LINE_BREAK.finditer(text)]

    def position(self, index: int) -> tuple[int, int]:
        """1-based (line, col) of a character index."""
        line = bisect.bisect_right(self.starts, index)
        return line, index - self.starts[line - 1] + 1

    def span(self, start: int, end: int | None = None) -> Span:
        """Span from index `start`; to `end` (exclusive) where it is on the same line."""
        line, col = self.position(start)
        shift = self.col_shift if line == 1 else 0
        if end is not None and end > start and self.position(end)[0] == line:
            return Span(self.file, line, col + shift, line, col + end - start + shift)
        return Span(self.file, line, col + shift)

    def node_span(self, node: Any) -> Span:
        """A scalar's whole text; a collection's first character (`[`) or start."""
        if isinstance(node, ScalarNode):
            return self.span(node.start_mark.index, node.end_mark.index)
        start = node.start_mark.index
        return self.span(start, start + 1 if node.flow_style else None)

    def token_span(self, mark: Any, sigil: str) -> Span:
        """Span of the `!tag`, `&anchor` or `*alias` token, searched from the node's start."""
        start = self.text.find(sigil, mark.index)
        if start < 0 or LINE_BREAK.search(self.text, mark.index, start):
            return self.span(mark.index)
        return self.span(start, _TOKEN.match(self.text, start).end())

    def check(self) -> None:
        """Refuse, before parsing, what ruamel would misread or choke on.

        Huge texts and deep flow nesting: ruamel's scanner slows down quadratically
        with open brackets. (Block nesting, and brackets this quick scan misses, are
        caught by the composer's max_depth.) U+0085, U+2028, U+2029: ruamel breaks
        lines there as YAML 1.1 did, so text after one in a comment would be parsed.
        """
        if len(self.text) > MAX_TEXT_CHARS:
            raise SpecError(f"{self.file} is {len(self.text):,} characters long; the limit is "
                            f"{MAX_TEXT_CHARS:,}", Span(self.file, 1, 1),
                            "a spec is a short file; keep data in data files")
        separator = _SEPARATOR.search(self.text)
        if separator:
            raise SpecError(f"invalid YAML: unacceptable character U+{ord(separator[0]):04X}",
                            self.span(separator.start(), separator.end()),
                            "an invisible line separator; remove it (YAML 1.2 lines end at newlines)")
        depth, quote = 0, None
        for i, ch in enumerate(self.text):
            if quote:
                if ch == quote or (quote == "\n" and ch == "\r"):
                    quote = None
            elif ch in "'\"":
                quote = ch
            elif ch == "#":
                quote = "\n"  # a comment runs to the end of the line
            elif ch in "[{":
                depth += 1
                if depth > MAX_DEPTH:
                    raise _too_deep(self.span(i, i + 1))
            elif ch in "]}":
                depth = max(0, depth - 1)


def _too_deep(span: Span) -> SpecError:
    return SpecError(f"nested more than {MAX_DEPTH} levels deep", span,
                     "a spec needs a few levels at most")


# ---------------------------------------------------------------------------- composing


class _Scanner(Scanner):
    """Refuses `%YAML` versions other than 1.2 where written (ruamel asserts on 1.3)."""

    def scan_directive(self) -> Any:
        token = super().scan_directive()
        if token.name == "YAML" and tuple(token.value) != (1, 2):
            version = ".".join(map(str, token.value))
            raise ScannerError(None, None, f"YAML version {version} is not supported",
                               token.start_mark, note="specs are YAML 1.2; remove the `%YAML` line")
        return token


class _Composer(Composer):
    """ruamel's composer, noting tags, anchors and aliases instead of honouring them."""

    def __init__(self, loader: Any = None):
        super().__init__(loader)
        self.warn_double_anchors = False  # every anchor is refused anyway
        self.refused: list[tuple[str, Any]] = []  # (sigil, mark of the node)

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.parser.peek_event()
        if isinstance(event, AliasEvent):  # never looked up: a null stands in
            self.parser.get_event()
            self.refused.append(("*", event.start_mark))
            return ScalarNode(None, "", event.start_mark, event.end_mark)
        if event.tag is not None:
            self.refused.append(("!", event.start_mark))
        if event.anchor is not None:
            self.refused.append(("&", event.start_mark))
        return super().compose_node(parent, index)


# What a spec may not hold, by the sigil that writes it: (message, hint).
_REFUSED = {
    "!": ("tags are not allowed in specs", "remove the tag; values are typed by the spec schema"),
    "&": ("anchors and aliases are not allowed in specs", "write the value out in full"),
}
_REFUSED["*"] = _REFUSED["&"]


def _compose(where: _Text) -> tuple[Any, list[SpecError]]:
    """The root node (None for an empty stream) and errors for refused tags, anchors, aliases."""
    yaml = YAML(typ="safe", pure=True)
    yaml.Scanner, yaml.Composer = _Scanner, _Composer
    yaml.max_depth = MAX_DEPTH + 2  # the root and the leaf scalar are not nesting
    try:
        node = yaml.compose(where.text)
    except MaxDepthExceededError as exc:
        raise _too_deep(where.span(exc.problem_mark.index)) from None
    except ComposerError as exc:  # the only one left: aliases are never looked up
        raise SpecError("a spec file holds one YAML document, found a second one",
                        where.span(exc.problem_mark.index),
                        "remove the `---` separator and everything after it, or split the file",
                        ) from None
    except MarkedYAMLError as exc:
        raise _syntax_error(exc, where) from None
    except ReaderError as exc:
        raise SpecError(f"invalid YAML: unacceptable character U+{exc.character:04X}",
                        where.span(exc.position), "remove the control character") from None
    except YAMLError as exc:  # unmarked ruamel errors: still no traceback
        lines = str(exc).strip().splitlines() or ["syntax error"]
        raise SpecError(f"invalid YAML: {lines[0]}", where.span(0)) from None
    return node, [SpecError(_REFUSED[sigil][0], where.token_span(mark, sigil), _REFUSED[sigil][1])
                  for sigil, mark in yaml.composer.refused]


def _syntax_error(exc: MarkedYAMLError, where: _Text) -> SpecError:
    """A readable, located message from ruamel's (problem, problem_mark, context)."""
    problem = exc.problem or exc.context or "syntax error"
    mark = exc.problem_mark or exc.context_mark
    # "end of stream" points after the last text
    span = where.span(min(mark.index, len(where.text.rstrip())) if mark else 0)
    hint = exc.note  # set by _Scanner; ruamel leaves it empty
    if exc.context and exc.context_mark is not None and exc.problem:
        hint = f"{exc.context} started on line {where.position(exc.context_mark.index)[0]}"
    if "\t" in problem or "\\t" in problem or "tab" in problem.lower():
        hint = "YAML indentation must use spaces, not tabs"
    return SpecError(f"invalid YAML: {problem}", span, hint)


# ---------------------------------------------------------------------------- building

_DISCARD = object()  # a mapping key that was refused: its entry is left out


class _Builder:
    """Plain data and spans from a composed node graph."""

    def __init__(self, where: _Text, doc: Document):
        self.where = where
        self.doc = doc
        self.errors: list[SpecError] = []

    def value(self, node: Any, path: tuple | None) -> Any:
        """The data of `node`; spans recorded under `path` (None: inside a key or a refused entry)."""
        span = self.where.node_span(node)
        if path is not None:
            self.doc.value_spans[path] = span
        if isinstance(node, ScalarNode):
            return self._scalar(node, span, path)
        if isinstance(node, SequenceNode):
            return [self.value(item, None if path is None else path + (i,)) for i, item in enumerate(node.value)]
        mapping: dict = {}
        first_line: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = self._key(key_node, first_line, path)
            child = None if path is None or key is _DISCARD else path + (key,)
            value = self.value(value_node, child)
            if key is not _DISCARD:
                mapping[key] = value
        return mapping

    def _scalar(self, node: Any, span: Span, path: tuple | None) -> Any:
        if node.style is not None:
            value = node.value
        else:
            try:
                value = resolve_plain(node.value)
            except ValueError:
                self.errors.append(SpecError(
                    f"integer too large: over {MAX_INT_DIGITS} decimal digits", span,
                    "write a float such as 1e300 for a huge number"))
                return node.value
        # where the content is the raw text, columns inside the string are the file's
        offset = {None: 0, "'": 1, '"': 1}.get(node.style)
        if path is not None and isinstance(value, str) and offset is not None and span.end_col is not None:
            start, end = node.start_mark.index + offset, node.end_mark.index - offset
            if self.where.text[start:end] == value:
                self.doc.text_offsets[path] = offset
        return value

    def _key(self, node: Any, first_line: dict[str, int], path: tuple | None) -> Any:
        """A valid, new string key, or _DISCARD after recording why not."""
        key = self.value(node, None)
        span = self.where.node_span(node)
        if not isinstance(key, str):
            scalar = not isinstance(key, (dict, list)) and key is not None
            raw = self.where.text[node.start_mark.index: node.end_mark.index]
            self.errors.append(SpecError(
                f"mapping keys must be strings, not {kind_of(key)}" + (f" {key!r}" if scalar else ""),
                span,
                f"quote the key if it is meant as text: '{raw}':" if scalar else None,
            ))
            return _DISCARD
        if key in first_line:
            self.errors.append(SpecError(f"duplicate key '{key}'", span,
                                         f"'{key}' is first defined on line {first_line[key]}"))
            return _DISCARD
        first_line[key] = span.line
        if path is not None:
            self.doc.key_spans[path + (key,)] = span
        return key


def _raise(errors: list[SpecError]) -> None:
    """Raise one error as SpecError, several as SpecErrors in source order.

    Identical complaints (twenty aliases are one mistake) show once, with a count.
    """
    counts = Counter(e.message for e in errors)
    first: dict[str, SpecError] = {}
    for e in sorted(errors, key=lambda e: (e.span.line, e.span.col)):
        first.setdefault(e.message, e)
    shown = []
    for message, e in first.items():
        if counts[message] > 1:
            note = f"{counts[message] - 1} more like it below"
            e = replace(e, hint=f"{e.hint}; {note}" if e.hint else note)
        shown.append(e)
    if shown:
        raise shown[0] if len(shown) == 1 else SpecErrors(shown)


# ---------------------------------------------------------------------------- loading


def parse(text: str, file: str, col_shift: int = 0) -> tuple[Any, Any, Document]:
    """(root value, root node or None when empty, spans) of one YAML text a user wrote.

    The same limits hold for every such text, spec file or `--set` value; `col_shift`
    places a text that starts mid-line.
    """
    where = check_text(text, file, col_shift)
    node, errors = _compose(where)
    doc = Document(data={}, source=text, file=file)
    builder = _Builder(where, doc)
    value = None if node is None else builder.value(node, ())
    _raise(errors + builder.errors)
    return value, node, doc


def check_text(text: str, file: str, col_shift: int = 0) -> _Text:
    """Refuse a text too big or too deeply nested to parse (see _Text.check)."""
    where = _Text(text, file, col_shift)
    where.check()
    return where


_EMPTY_HINT = "a spec starts with `scorec: 1`"


def load_yaml(text: str | bytes, file: str) -> Document:
    """Parse a spec's text into a :class:`Document` (raises SpecError / SpecErrors)."""
    if isinstance(text, bytes):
        text = _decode(text, file)
    value, node, doc = parse(text.removeprefix("\ufeff"), file)
    if node is None or (isinstance(node, ScalarNode) and node.value == "" and node.style is None):
        raise SpecError("the spec is empty", Span(file, 1, 1), _EMPTY_HINT)
    if not isinstance(value, dict):
        raise SpecError(
            f"a spec must be a mapping of sections, not {kind_of(value)}",
            doc.value_spans[()],
            _EMPTY_HINT + ", followed by sections such as `process:` and `sample:`",
        )
    doc.data = value
    return doc


def _decode(raw: bytes, file: str) -> str:
    """UTF-8 decode, locating the first bad byte by line and column."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start].decode("utf-8").removeprefix("\ufeff")
        line, col = _Text(before, file).position(len(before))
        raise SpecError(
            "file is not valid UTF-8",
            Span(file, line, col, line, col + 1),
            f"byte 0x{raw[exc.start]:02x} cannot start or continue a UTF-8 character; "
            "save the spec as UTF-8",
        ) from None


def read_spec_file(path: str | os.PathLike) -> tuple[bytes, str]:
    """A spec file's bytes and its name as given (spans name it so); unreadable is a SpecError."""
    name = os.fspath(path)
    try:
        with open(name, "rb") as fh:
            return fh.read(), name
    except OSError as exc:
        raise SpecError(f"cannot read spec file '{name}': {exc.strerror or exc}") from None


def load_path(path: str | os.PathLike) -> Document:
    """Load a YAML spec file; spans name the file as given."""
    return load_yaml(*read_spec_file(path))
