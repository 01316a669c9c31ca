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

`--set` overrides live in :mod:`scorec.schema.overrides`; they parse their values with
:func:`parse`, under the same limits.
"""

from __future__ import annotations

import os
import re
from collections import Counter
from dataclasses import replace
from typing import Any

from ruamel.yaml import YAML
from ruamel.yaml.composer import Composer, ComposerError, MaxDepthExceededError
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import AliasEvent
from ruamel.yaml.nodes import ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError
from ruamel.yaml.scanner import Scanner, ScannerError

from ..core.diagnostics import LINE_BREAK, Span, SpecError, SpecErrors, kind_of
from ..core.hints import hint
from .source import MAX_DEPTH, MAX_INT_DIGITS, Document, SourceText, decode, read_spec_file, resolve_plain

# ---------------------------------------------------------------------------- positions

MAX_TEXT_CHARS = 1_000_000
_SEPARATOR = re.compile("[\x85\u2028\u2029]")
_TOKEN = re.compile(r"[^\s,\[\]{}]*")  # a tag, anchor or alias ends at a blank or flow indicator


class _Text(SourceText):
    """A YAML text: Spans of ruamel's nodes and marks, and the checks made before parsing."""

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
                            "a spec is a short file; keep data in data files", code="E0002")
        separator = _SEPARATOR.search(self.text)
        if separator:
            raise SpecError(f"invalid YAML: unacceptable character U+{ord(separator[0]):04X}",
                            self.span(separator.start(), separator.end()),
                            "an invisible line separator; remove it (YAML 1.2 lines end at newlines)", code="E0101")
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
                     "a spec needs a few levels at most", code="E0002")


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
                            code="E0101",
                        ) from None
    except MarkedYAMLError as exc:
        raise _syntax_error(exc, where) from None
    except ReaderError as exc:
        raise SpecError(f"invalid YAML: unacceptable character U+{exc.character:04X}",
                        where.span(exc.position), "remove the control character", code="E0101") from None
    except YAMLError as exc:  # unmarked ruamel errors: still no traceback
        lines = str(exc).strip().splitlines() or ["syntax error"]
        raise SpecError(f"invalid YAML: {lines[0]}", where.span(0), code="E0101") from None
    return node, [SpecError(_REFUSED[sigil][0], where.token_span(mark, sigil), _REFUSED[sigil][1], code="E0103")
                  for sigil, mark in yaml.composer.refused]


def _syntax_error(exc: MarkedYAMLError, where: _Text) -> SpecError:
    """A readable, located message from ruamel's (problem, problem_mark, context)."""
    problem = exc.problem or exc.context or "syntax error"
    mark = exc.problem_mark or exc.context_mark
    # "end of stream" points after the last text
    span = where.span(min(mark.index, len(where.text.rstrip())) if mark else 0)
    advice = exc.note  # set by _Scanner; ruamel leaves it empty
    if exc.context and exc.context_mark is not None and exc.problem:
        advice = f"{exc.context} started on line {where.position(exc.context_mark.index)[0]}"
    if "\t" in problem or "\\t" in problem or "tab" in problem.lower():
        advice = "YAML indentation must use spaces, not tabs"
    return SpecError(f"invalid YAML: {problem}", span, advice, code="E0101")


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
                    "write a float such as 1e300 for a huge number", code="E0002"))
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
                code="E0105",
            ))
            return _DISCARD
        if key in first_line:
            self.errors.append(SpecError(f"duplicate key '{key}'", span,
                                         f"'{key}' is first defined on line {first_line[key]}", code="E0104"))
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
            e = replace(e, hint=hint(e.hint, "; ", note) if e.hint else note)
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
        text = decode(text, file)
    value, node, doc = parse(text.removeprefix("\ufeff"), file)
    if node is None or (isinstance(node, ScalarNode) and node.value == "" and node.style is None):
        raise SpecError("the spec is empty", Span(file, 1, 1), _EMPTY_HINT, code="E0202")
    if not isinstance(value, dict):
        raise SpecError(
            f"a spec must be a mapping of sections, not {kind_of(value)}",
            doc.value_spans[()],
            _EMPTY_HINT + ", followed by sections such as `process:` and `sample:`",
            code="E0203",
        )
    doc.data = value
    return doc


def load_path(path: str | os.PathLike) -> Document:
    """Load a YAML spec file; spans name the file as given."""
    return load_yaml(*read_spec_file(path))
