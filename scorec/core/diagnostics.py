"""Diagnostics: located spec errors as data, and their rendering.

Every mistake in a spec becomes a :class:`SpecError`: a code (the kind of mistake, one
row of the table in core/codes.py, `scorec explain CODE`), a :class:`Span` into the
source text, a one-line message and an optional hint. A hint is prose, or a :class:`Hint`
whose parts include structured fixes (set a key, add a key, choose a kind, define a
helper, core/hints.py): data, which each input format writes in its own syntax
(frontend/hint_words.py). The CLI renders them as

    spec.yaml:7:12: error[E0205]: unknown sampler 'emm'
      7 |   sampler: emm
        |            ^^^
      hint: did you mean 'em'?

and exits with status 2. No traceback ever reaches the user for a spec mistake.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

from .hints import Hint, HintWords


@dataclass(frozen=True)
class Span:
    """A region of a source file. Lines and columns are 1-based; `end_col` is exclusive."""

    file: str
    line: int
    col: int
    end_line: int | None = None
    end_col: int | None = None

    def shifted(self, offset: int, length: int | None = None) -> "Span":
        """The span `offset` characters further along the same line (for text inside a scalar)."""
        col = self.col + offset
        end = col + length if length is not None else None
        return Span(self.file, self.line, col, self.line if end else None, end)


# ---------------------------------------------------------------------------- errors

# The code of a check that finds options which do not fit together: what `ctx.error(...)` and
# a component's model-level FieldError mean unless they say otherwise (core/codes.py).
OPTIONS_CONFLICT = "E0209"


@dataclass
class SpecError(Exception):
    """One located mistake in a spec; `code` names its kind (core/codes.py)."""

    message: str
    span: Span | None = None
    hint: str | Hint | None = None
    code: str = OPTIONS_CONFLICT

    def __str__(self) -> str:  # plain, for logs and pytest output
        where = f"{self.span.file}:{self.span.line}:{self.span.col}: " if self.span else ""
        return f"{where}error: {self.message}" + (f" (hint: {self.hint})" if self.hint else "")


@dataclass
class SpecErrors(Exception):
    """Several spec errors found in one pass, reported together in source order."""

    errors: list[SpecError] = field(default_factory=list)

    def __str__(self) -> str:
        return "\n".join(str(e) for e in self.errors)


def did_you_mean(word: str, choices: Iterable[str]) -> str | None:
    """A hint naming the closest of `choices` to `word`, if any is close."""
    match = difflib.get_close_matches(str(word), sorted(set(choices)), n=1, cutoff=0.6)
    return f"did you mean '{match[0]}'?" if match else None


def describe(value: Any) -> str:
    """A value as a message quotes it: "the string 'x'", "the boolean true", "null", "-1"."""
    if isinstance(value, str):
        return f"the string '{value}'"
    if isinstance(value, bool):
        return f"the boolean {str(value).lower()}"
    if value is None:
        return "null"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, int) and abs(value) >= 10**20:
        return f"an integer of {len(str(abs(value)))} digits"
    return repr(value)


def kind_of(value: Any) -> str:
    """What kind of YAML value this is, for messages: 'a number', 'a mapping', ..."""
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


MAX_SHOWN = 100  # characters of a source line shown under a diagnostic

# Where a source line ends: YAML's line breaks, which the loader's line numbers count.
# (str.splitlines also breaks at form feeds, U+0085, U+2028, ...: the caret would land
# on the wrong line.)
LINE_BREAK = re.compile(r"\r\n|\r|\n")


def source_lines(text: str) -> list[str]:
    """The lines of a source text, as diagnostics number them."""
    lines = LINE_BREAK.split(text)
    return lines[:-1] if lines[-1] == "" else lines


def _source_line(sources: dict[str, str], span: Span) -> str | None:
    text = sources.get(span.file)
    if text is None:
        return None
    lines = source_lines(text)
    if 1 <= span.line <= len(lines):
        return lines[span.line - 1]
    return None


def _unsafe(ch: str) -> bool:
    """Characters a terminal would act on or hide: controls (tab aside), format
    characters (bidi overrides, zero-width), line/paragraph separators, and the lone
    surrogates that stand for undecodable bytes in command-line arguments."""
    return ch != "\t" and unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs")


def escape(text: str) -> str:
    """`text` with unsafe characters written as escapes, e.g. ESC as `\\x1b`."""
    if text.isprintable():  # the common case, fast
        return text
    return "".join((f"\\x{ord(c):02x}" if ord(c) < 0x100 else f"\\u{ord(c):04x}") if _unsafe(c) else c
                   for c in text)


def _pad(text: str) -> str:
    """Blanks as wide as `text`, keeping its tabs so the caret lines up under them."""
    return "".join("\t" if c == "\t" else " " for c in text)


def render(error: SpecError, sources: dict[str, str] | None = None, words: HintWords | None = None) -> str:
    """Render one error as `file:line:col: error[CODE]: msg`, the source line, a caret, a
    hint whose fixes `words` writes in the spec's own syntax (plain words without it).

    User text (the line, and messages quoting it) is shown with control characters
    escaped: a comment holding a terminal escape sequence must not reach the terminal.
    """
    sources = sources or {}
    out: list[str] = []
    span = error.span
    head = f"error[{error.code}]: {escape(error.message)}"
    if span is None:
        out.append(head)
    else:
        out.append(f"{escape(span.file)}:{span.line}:{span.col}: {head}")
        line = _source_line(sources, span)
        if line is not None and len(line) > MAX_SHOWN:
            # show a window of a long line around the span, marked with ellipses
            start = max(0, span.col - 1 - MAX_SHOWN // 2)
            line = ("..." if start else "") + line[start:start + MAX_SHOWN] + "..."
            shift = start - (3 if start else 0)
            span = Span(span.file, span.line, span.col - shift, span.end_line,
                        None if span.end_col is None else span.end_col - shift)
        if line is not None:
            gutter = f"{span.line:>4} | "
            out.append(gutter + escape(line))
            if span.end_col is not None and (span.end_line in (None, span.line)):
                width = max(1, span.end_col - span.col)
            else:
                width = 1
            width = min(width, max(1, len(line) - span.col + 1))
            before = line[:span.col - 1]
            under = line[span.col - 1:span.col - 1 + width]
            # past the end of the line, blanks and carets count characters as they are
            pad = _pad(escape(before)) + " " * (span.col - 1 - len(before))
            carets = len(escape(under)) + width - len(under)
            out.append(" " * (len(gutter) - 2) + "| " + pad + "^" * carets)
    if error.hint:
        text = error.hint.text(words) if isinstance(error.hint, Hint) else error.hint
        out.append(f"  hint: {escape(text)}")
    return "\n".join(out)


def render_all(errors: Sequence[SpecError], sources: dict[str, str] | None = None,
               words: HintWords | None = None) -> str:
    """Render several errors, sorted by position, separated by blank lines."""

    def key(e: SpecError):
        s = e.span
        return (0, s.file, s.line, s.col) if s else (1, "", 0, 0)

    return "\n\n".join(render(e, sources, words) for e in sorted(errors, key=key))


def summary(errors: Sequence[SpecError], file: str) -> str:
    """The line after the diagnostics: how many, where, and the command that says more."""
    n = len(errors)
    codes = sorted({e.code for e in errors})
    more = (f"`scorec explain {codes[0]}` says more" if len(codes) == 1
            else f"`scorec explain CODE` says more: {', '.join(codes)}")
    return f"{n} error{'s' if n != 1 else ''} in {file} ({more})"
