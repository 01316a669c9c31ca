"""What both spec formats share: the loaded Document, the text positions behind its Spans,
how plain scalars read, the reading and decoding of a spec file, and the limits on it.

The YAML loader (yaml_loader.py) and the `.score` loader (score_loader.py) each build a
Document; every later stage sees only the Document.
"""

from __future__ import annotations

import bisect
import os
import re
from dataclasses import dataclass, field
from typing import Any

from ..core.diagnostics import LINE_BREAK, Span, SpecError

MAX_DEPTH = 64  # nesting of mappings and lists in a spec text


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


class SourceText:
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


# ---------------------------------------------------------------------------- files


def decode(raw: bytes, file: str) -> str:
    """UTF-8 decode, locating the first bad byte by line and column."""
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start].decode("utf-8").removeprefix("\ufeff")
        line, col = SourceText(before, file).position(len(before))
        raise SpecError(
            "file is not valid UTF-8",
            Span(file, line, col, line, col + 1),
            f"byte 0x{raw[exc.start]:02x} cannot start or continue a UTF-8 character; "
            "save the spec as UTF-8",
            code="E0001",
        ) from None


def read_spec_file(path: str | os.PathLike) -> tuple[bytes, str]:
    """A spec file's bytes and its name as given (spans name it so); unreadable is a SpecError."""
    name = os.fspath(path)
    try:
        with open(name, "rb") as fh:
            return fh.read(), name
    except OSError as exc:
        raise SpecError(f"cannot read spec file '{name}': {exc.strerror or exc}", code="E0001") from None
