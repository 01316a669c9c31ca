"""Load a `.score` spec (DESIGN.md §5) into the same Document the YAML loader makes.

The text is parsed by the LALR grammar in `dsl.lark`, then walked into plain data with a
Span for every key and value, so validation, lowering and expression errors point into
the `.score` file exactly as they point into a YAML one. The mapping to the YAML shape:

* `key value` at the top level is `key: value`;
* `key kind { ... }` is `key: {<tag>: kind, ...}`: the tag is the key that picks the
  component there (`source` for data, `sampler` for sample, `kind` elsewhere; for
  `model` the parameterization), as the caller's Layout says;
* `dx = ...` in a section is its `equation:`, `f(t) = ...` one entry of its `where:`;
* a value is a number, a double-quoted string, `true`/`false`/`null`, a list, or an
  expression, kept as its source text (a bare name is such a text: `fourier`).

The kind word's key comes from the Layout the caller passes (frontend/layout.py); the
schema side builds it, so this module knows no schema.
"""

from __future__ import annotations

import bisect
import json
from dataclasses import dataclass, field
from typing import Any

from ..core.diagnostics import Span, SpecError, SpecErrors
from .layout import Layout
from .score_grammar import EQUATION_KEY, HELPERS_KEY, SIGNED_NUMBER, SPECIALS, WORDS, scan, score_parser
from .score_syntax import syntax_error
from .source import MAX_DEPTH, MAX_INT_DIGITS, Document, SourceText, decode, resolve_plain

# Lark's pure-Python LALR parser takes about 30 us a token: this bounds a parse to a few
# seconds (a real spec has a few hundred tokens).
MAX_SCORE_CHARS = 100_000


@dataclass
class Comment:
    """Comments written around one statement: full lines before it, and one after it on its line."""

    before: list[str] = field(default_factory=list)
    after: str | None = None


@dataclass
class ScoreDocument(Document):
    """A Document from a `.score` file, with its comments attached to statement paths."""

    comments: dict[tuple, Comment] = field(default_factory=dict)
    trailing: list[str] = field(default_factory=list)  # comments after the last statement


def load_score(text: str | bytes, file: str, *, layout: Layout) -> ScoreDocument:
    """Parse `.score` text into a Document (raises SpecError / SpecErrors); `layout` says which
    key a section's kind word fills (scorec.schema.query.SPEC_LAYOUT for spec format v1)."""
    if isinstance(text, bytes):
        text = decode(text, file)
    text = text.removeprefix("\ufeff")
    where = SourceText(text, file)
    _check_limits(where)
    from lark.exceptions import LarkError

    try:
        tree = score_parser().parse(text)
    except LarkError as exc:
        raise syntax_error(exc, where) from None
    doc = ScoreDocument(data={}, source=text, file=file)
    builder = _Builder(where, doc, layout)
    statements = builder.build(tree)
    if builder.errors:
        raise builder.errors[0] if len(builder.errors) == 1 else SpecErrors(builder.errors)
    if not doc.data:
        raise SpecError("the spec is empty", Span(file, 1, 1), "a spec starts with `scorec 1`", code="E0202")
    _attach_comments(doc, scan(text)[0], statements, where)
    return doc


def _check_limits(where: SourceText) -> None:
    """Refuse texts too long or nested too deeply before parsing them."""
    if len(where.text) > MAX_SCORE_CHARS:
        raise SpecError(f"{where.file} is {len(where.text):,} characters long; the limit is {MAX_SCORE_CHARS:,}",
                        Span(where.file, 1, 1), "a spec is a short file; keep data in data files", code="E0002")
    depth = 0
    for index in scan(where.text)[1]:
        depth = depth + 1 if where.text[index] in "([{" else max(0, depth - 1)
        if depth > MAX_DEPTH:
            raise SpecError(f"nested more than {MAX_DEPTH} levels deep", where.span(index, index + 1),
                            "a spec needs a few levels at most", code="E0002")


class _Builder:
    """Plain data and spans from the parse tree."""

    def __init__(self, where: SourceText, doc: ScoreDocument, layout: Layout):
        self.where, self.doc, self.layout = where, doc, layout
        self.errors: list[SpecError] = []
        self.first_line: dict[tuple, dict[str, int]] = {}
        self.statements: list[tuple[int, tuple]] = []  # (start index, path) of each statement

    def build(self, tree: Any) -> list[tuple[int, tuple]]:
        self.doc.value_spans[()] = Span(self.where.file, 1, 1)
        for node in tree.children:
            self._statement(node, self.doc.data, ())
        return self.statements

    def span(self, start: int, end: int | None = None) -> Span:
        return self.where.span(start, end)

    def token_span(self, token: Any) -> Span:
        return self.span(token.start_pos, token.end_pos)

    def _claim(self, parent: tuple, key: str, span: Span) -> bool:
        """Record `key` in the mapping at `parent`; False (and an error) if written before."""
        seen = self.first_line.setdefault(parent, {})
        if key in seen:
            self.errors.append(SpecError(f"duplicate key '{key}'", span,
                                         f"'{key}' is first defined on line {seen[key]}", code="E0104"))
            return False
        seen[key] = span.line
        return True

    def _statement(self, node: Any, mapping: dict, parent: tuple) -> None:
        kind = node.data
        first = node.children[0]
        if kind in ("top_value", "pair"):
            key, value = first, node.children[-1]
            self._set(mapping, parent, str(key), self.token_span(key), value, key.start_pos)
        elif kind == "section":
            self._section(node, mapping, parent)
        elif kind == "equation":
            self._equation(first, mapping, parent)
        elif kind == "helper":
            self._helper(node, mapping, parent)

    def _set(self, mapping: dict, parent: tuple, key: str, key_span: Span, value: Any, start: int) -> None:
        if not self._claim(parent, key, key_span):
            return
        path = parent + (key,)
        self.doc.key_spans[path] = key_span
        self.statements.append((start, path))
        mapping[key] = self._value(value, path)

    def _section(self, node: Any, mapping: dict, parent: tuple) -> None:
        name, rest = node.children[0], node.children[1:]
        kind = rest[0] if rest[0].type == "NAME" else None
        brace = rest[1] if kind is not None else rest[0]
        key, key_span = str(name), self.token_span(name)
        if not self._claim(parent, key, key_span):
            return
        path = parent + (key,)
        section: dict = {}
        mapping[key] = section
        self.doc.key_spans[path] = key_span
        self.doc.value_spans[path] = self.span(name.start_pos, brace.end_pos)
        self.statements.append((name.start_pos, path))
        if kind is not None:
            tag = self._tag_of(path)
            if tag is not None:
                self._claim(path, tag, self.token_span(kind))
                section[tag] = str(kind)
                self.doc.key_spans[path + (tag,)] = self.doc.value_spans[path + (tag,)] = self.token_span(kind)
        for child in rest:
            if hasattr(child, "data"):
                self._statement(child, section, path)

    def _tag_of(self, path: tuple) -> str | None:
        tag, problem = self.layout.tag_of(path, self.doc.data)
        if problem is not None:
            self.errors.append(SpecError(problem[0], self.doc.value_spans[path], problem[1], code="E0102"))
        return tag

    def _equation(self, token: Any, mapping: dict, parent: tuple) -> None:
        text = str(token).rstrip()
        span = self.span(token.start_pos, token.start_pos + len(text))
        if not self._claim(parent, EQUATION_KEY, span):
            return
        path = parent + (EQUATION_KEY,)
        self.doc.key_spans[path] = self.span(token.start_pos, token.start_pos + 2)
        self.doc.value_spans[path] = span
        self.doc.text_offsets[path] = 0
        self.statements.append((token.start_pos, path))
        mapping[EQUATION_KEY] = text

    def _helper(self, node: Any, mapping: dict, parent: tuple) -> None:
        name, argument, body = node.children
        if str(argument) != "t":
            self.errors.append(SpecError(f"a helper is a function of t, not of '{argument}'",
                                         self.token_span(argument), f"write {name}(t) = <formula in t>", code="E0503"))
            return
        helpers = mapping.get(HELPERS_KEY)
        if helpers is None:
            if not self._claim(parent, HELPERS_KEY, self.token_span(name)):
                return
            helpers = mapping[HELPERS_KEY] = {}
            self.doc.value_spans[parent + (HELPERS_KEY,)] = self.token_span(name)
            self.doc.key_spans[parent + (HELPERS_KEY,)] = self.token_span(name)
        elif not isinstance(helpers, dict):
            self.errors.append(SpecError(f"'{name}(t) = ...' adds to '{HELPERS_KEY}', which is already written",
                                         self.token_span(name), "write all helpers as `f(t) = ...` lines",
                                         code="E0503"))
            return
        self._set(helpers, parent + (HELPERS_KEY,), str(name), self.token_span(name), body, name.start_pos)

    def _value(self, node: Any, path: tuple) -> Any:
        """The data of a value (or expression) node; spans recorded under `path`."""
        start, end = node.meta.start_pos, node.meta.end_pos
        span = self.span(start, end)
        self.doc.value_spans[path] = span
        inner = node.children[0] if node.data == "value" else node
        if getattr(inner, "data", None) == "list":
            items = [c for c in inner.children if getattr(c, "data", None) == "value"]
            return [self._value(item, path + (i,)) for i, item in enumerate(items)]
        text = self.where.text[start:end]
        if getattr(inner, "type", None) == "STRING":
            return self._string(text, span, path)
        if getattr(inner, "type", None) == "SPECIAL":
            return SPECIALS[text]
        if text in WORDS:
            return WORDS[text]
        if SIGNED_NUMBER.fullmatch(text):
            try:
                return resolve_plain(text)
            except ValueError:
                self.errors.append(SpecError(f"integer too large: over {MAX_INT_DIGITS} decimal digits", span,
                                             "write a float such as 1e300 for a huge number", code="E0002"))
                return text
        if span.end_col is not None:  # an expression on one line: columns inside it are the file's
            self.doc.text_offsets[path] = 0
        return text

    def _string(self, text: str, span: Span, path: tuple) -> str:
        try:
            value = json.loads(text)
        except ValueError as exc:
            control = "control character" in str(exc)
            self.errors.append(SpecError("control character in string" if control else "invalid escape in string",
                                         span, 'strings use JSON escapes: \\" \\\\ \\n \\t \\u00e9', code="E0102"))
            return text[1:-1]
        if text[1:-1] == value and span.end_col is not None:
            self.doc.text_offsets[path] = 1
        return value


def _attach_comments(doc: ScoreDocument, comments: list[tuple[int, str]], statements: list, where: SourceText) -> None:
    """Attach each comment to a statement: the first one on its line before it, else the next one."""
    statements = sorted(statements)
    starts = [s for s, _ in statements]
    for index, text in comments:
        line_start = where.starts[where.position(index)[0] - 1]
        first_on_line, following = bisect.bisect_left(starts, line_start), bisect.bisect_right(starts, index)
        if first_on_line < following:
            entry = doc.comments.setdefault(statements[first_on_line][1], Comment())
            entry.after = text if entry.after is None else f"{entry.after} {text}"
        elif following < len(statements):
            doc.comments.setdefault(statements[following][1], Comment()).before.append(text)
        else:
            doc.trailing.append(text)
