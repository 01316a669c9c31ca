"""Spec data -> canonical `.score` text (the inverse of score_loader).

Canonical form: keys in the order the caller's Layout gives (frontend/layout.py: the schema's);
top-level values as `key value`; a section on one line when it holds only values and
inline sections and fits in WIDTH columns, else one entry per line, indented by two
spaces; the kind word after the section's name; `equation` as a `dx = ...` line and
`where` entries as `f(t) = ...` lines. A string is written bare when it reads back as
the same string (a name, an expression), else in double quotes; a number as the source
spelt it where that is valid .score (`2e-3` stays `2e-3`). Comments a .score file
held are written back before (or after) the statements they were attached to.

Whatever cannot be written as .score (a key that is not a name, a mapping inside a
list) is a located SpecError: the printer never drops or changes a value.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

from ..core.diagnostics import SpecError, source_lines
from .layout import Layout, kind_key, ordered_keys
from .score_grammar import EQUATION_KEY, HELPERS_KEY, SIGNED_NUMBER, WORDS, score_parser
from .score_loader import Comment
from .source import resolve_plain

WIDTH = 100
INDENT = "  "
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
EQUATION_SIDE = "dx"  # the left-hand side that makes a line an SDE equation
_EQUATION = re.compile(r"dx(?![A-Za-z0-9_])[ \t]*=[^\n\r{}#]*")


class ScorePrinter:
    """One spec's data (and comments) printed as .score text."""

    def __init__(self, data: dict, layout: Layout, comments: dict[tuple, Comment] | None = None,
                 trailing: list[str] | None = None, source: Any = None):
        self.data, self.layout = data, layout
        self.comments = {path: Comment(list(c.before), c.after) for path, c in (comments or {}).items()}
        self.trailing = trailing or []
        self.source = source  # the Document printed, if any: where values were, how numbers were spelt
        self.lines = source_lines(source.source) if source is not None else []
        self._written: list = []  # top-level keys printed so far

    def text(self) -> str:
        lines: list[str] = []
        for key in ordered_keys(self.layout, self.data, (), self.data):
            path = (key,)
            self._check_key(key, path)
            value = self.data[key]
            if isinstance(value, dict):
                if lines and not any(isinstance(self.data[k], dict) for k in self._written):
                    lines.append("")  # a blank line between the header values and the sections
                lines += self._section(path, value, "")
            else:
                lines += self._statement(path, f"{key} {self.value(value, path)}", "")
            self._written.append(key)
        lines += self.trailing
        return "\n".join(lines) + "\n"

    # -- statements

    def _statement(self, path: tuple, text: str, indent: str) -> list[str]:
        comment = self.comments.get(path, Comment())
        after = f"  {comment.after}" if comment.after else ""
        return [indent + c for c in comment.before] + [indent + text + after]

    def _section(self, path: tuple, mapping: dict, indent: str) -> list[str]:
        kind = self._kind_key(path, mapping)
        if kind is not None:
            self._merge_comments(path + (kind,), path)
        head = f"{path[-1]} {mapping[kind]} {{" if kind else f"{path[-1]} {{"
        entries = [k for k in ordered_keys(self.layout, mapping, path, self.data) if k != kind]
        inline = self._inline(path, mapping, entries)
        if inline is not None and len(indent) + len(head) + len(inline) + 3 <= WIDTH:
            return self._statement(path, f"{head}{inline} }}" if inline else f"{head}}}", indent)
        lines = self._statement(path, head, indent)
        inner = indent + INDENT
        for key in entries:
            lines += self._entry(path, key, mapping[key], inner)
        return lines + [indent + "}"]

    def _entry(self, parent: tuple, key: Any, value: Any, indent: str) -> list[str]:
        path = parent + (key,)
        self._check_key(key, path)
        if key == EQUATION_KEY and self._is_equation(value):
            return self._statement(path, value, indent)
        if key == HELPERS_KEY and self._are_helpers(value):
            self._merge_comments(path, path + (next(iter(value)),))
            lines = []
            for name, body in value.items():
                lines += self._statement(path + (name,), f"{name}(t) = {body}", indent)
            return lines
        if isinstance(value, dict):
            return self._section(path, value, indent)
        return self._statement(path, f"{key} = {self.value(value, path)}", indent)

    def _inline(self, path: tuple, mapping: dict, entries: list) -> str | None:
        """The entries of a section on one line, or None when it must take several."""
        if any(self.comments.get(path + (k,)) for k in entries):
            return None
        parts = []
        for key in entries:
            value, child = mapping[key], path + (key,)
            self._check_key(key, child)
            if key == EQUATION_KEY and self._is_equation(value) or key == HELPERS_KEY and self._are_helpers(value):
                return None
            if isinstance(value, dict):
                lines = self._section(child, value, "")
                if len(lines) != 1 or self.comments.get(child):  # (its kind word's comments are merged by now)
                    return None
                parts.append(lines[0])
            else:
                parts.append(f"{key} = {self.value(value, child)}")
        return " " + "  ".join(parts) if parts else ""

    def _merge_comments(self, source: tuple, target: tuple) -> None:
        """Comments of a key that is not a statement of its own (a kind word, `where`) go to `target`."""
        moved = self.comments.pop(source, None)
        if moved is not None:
            entry = self.comments.setdefault(target, Comment())
            entry.before += moved.before
            entry.after = " ".join(c for c in (entry.after, moved.after) if c) or None

    # -- values

    def value(self, value: Any, path: tuple) -> str:
        if value is None or isinstance(value, bool):
            return {None: "null", True: "true", False: "false"}[value]
        if isinstance(value, (int, float)) and self._spelling(path, value):
            return self._spelling(path, value)
        if isinstance(value, int):
            return str(value)
        if isinstance(value, float):
            if math.isnan(value):
                return ".nan"
            if math.isinf(value):
                return ".inf" if value > 0 else "-.inf"
            return repr(value)
        if isinstance(value, str):
            # a lone surrogate (from a \udXXX escape) cannot be written as UTF-8: keep it escaped
            surrogate = any("\ud800" <= c <= "\udfff" for c in value)
            return value if reads_back_bare(value) else json.dumps(value, ensure_ascii=surrogate)
        if isinstance(value, list):
            return "[" + ", ".join(self.value(v, path + (i,)) for i, v in enumerate(value)) + "]"
        raise SpecError(f"a {type(value).__name__} cannot be written in .score here", self.span_of(path),
                        "lists hold numbers, strings and lists; write a mapping as a section", code="E0701")

    def _spelling(self, path: tuple, value: Any) -> str | None:
        """A number as its source wrote it (`2.0e-3`), where that is .score and means the same."""
        span = self.source.value_spans.get(path) if self.source is not None else None
        if span is None or span.end_col is None or span.file != self.source.file or span.line > len(self.lines):
            return None
        text = self.lines[span.line - 1][span.col - 1: span.end_col - 1]
        if not SIGNED_NUMBER.fullmatch(text):
            return None
        try:
            read = resolve_plain(text)
        except ValueError:
            return None
        return text if type(read) is type(value) and read == value else None

    def span_of(self, path: tuple) -> Any:
        return self.source.span_of(path) if self.source is not None else None

    # -- checks

    def _kind_key(self, path: tuple, mapping: dict) -> str | None:
        key = kind_key(self.layout, path, self.data)
        return key if key in mapping and isinstance(mapping[key], str) and _NAME.fullmatch(mapping[key]) \
            and mapping[key] not in WORDS else None

    def _check_key(self, key: Any, path: tuple) -> None:
        if not (isinstance(key, str) and _NAME.fullmatch(key)):
            raise SpecError(f"key {key!r} cannot be written in .score", self.span_of(path),
                            "a .score key is a name: letters, digits and _, not starting with a digit", code="E0701")
        if key == EQUATION_SIDE and len(path) > 1:  # `dx = ...` in a section is the equation line
            raise SpecError(f"key '{key}' cannot be written in a .score section", self.span_of(path),
                            "`dx = ...` there is an SDE equation; rename the key", code="E0701")

    @staticmethod
    def _is_equation(value: Any) -> bool:
        return isinstance(value, str) and value == value.strip() and _EQUATION.fullmatch(value) is not None

    @staticmethod
    def _are_helpers(value: Any) -> bool:
        return isinstance(value, dict) and bool(value) and all(
            isinstance(k, str) and _NAME.fullmatch(k) and isinstance(v, str) and reads_back_bare(v)
            and not SIGNED_NUMBER.fullmatch(v) and v not in WORDS for k, v in value.items())


def reads_back_bare(text: str) -> bool:
    """Whether `text` written without quotes reads back as the same string."""
    if not text or text != text.strip() or "\n" in text or "\r" in text or text in WORDS:
        return False
    if SIGNED_NUMBER.fullmatch(text) or text.lstrip("+-").startswith("."):
        return False
    return _is_expression(text)


def _is_expression(text: str) -> bool:
    from lark.exceptions import LarkError

    try:
        tree = score_parser().parse(f"v {text}")
    except LarkError:
        return False
    statement = tree.children
    if len(statement) != 1 or statement[0].data != "top_value":
        return False
    value = statement[0].children[-1]
    inner = value.children[0]
    whole = value.meta.start_pos == 2 and value.meta.end_pos == len(text) + 2
    return getattr(inner, "data", None) == "expression" and whole


def to_score(data: dict, comments: dict | None = None, trailing: list[str] | None = None,
             source: Any = None, *, layout: Layout) -> str:
    """Canonical .score text of spec data, keys ordered and kind words chosen by `layout`
    (scorec.schema.query.SPEC_LAYOUT); `source`, the Document it was loaded as, keeps the
    spelling of its numbers and locates what cannot be printed."""
    return ScorePrinter(data, layout, comments, trailing, source).text()
