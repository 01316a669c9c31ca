"""Readable, located messages for syntax errors in `.score` files.

Lark reports an unexpected character or token and the terminals it expected; this module
turns that into what a person writing the file needs: where, what was found, and what
was expected in words (an unclosed brace names the line it was opened on).
"""

from __future__ import annotations

import re
from typing import Any

from ..core.diagnostics import Span, SpecError
from .score_grammar import scan

# terminals, in words
_WORDS = {
    "NAME": "a name", "NUMBER": "a number", "STRING": "a string", "SPECIAL": "a number",
    "EQUAL": "'='", "LBRACE": "'{'", "RBRACE": "'}'", "LSQB": "'['", "RSQB": "']'", "LPAR": "'('",
    "RPAR": "')'", "COMMA": "','", "PLUS": "'+'", "MINUS": "'-'", "STAR": "'*'", "SLASH": "'/'",
    "POW": "'**'", "EQUATION": "an equation 'dx = ...'", "$END": "the end of the file",
}
_SYNTAX_HINT = "a section is `name [kind] { key = value ... }`; see spec_examples/*.score"
_NUMBER_HINT = "numbers are written 3, 0.5, 2e-3 or -1.5"
_NUMBER_RUN = re.compile(r"[0-9.]*(?:[eE][+-]?)?[0-9A-Za-z_.]*")


def syntax_error(exc: Any, where: Any) -> SpecError:
    """A SpecError for a Lark UnexpectedInput on `where` (a source.SourceText)."""
    from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedToken

    if isinstance(exc, UnexpectedCharacters):
        return _bad_character(exc.pos_in_stream, where)
    if isinstance(exc, UnexpectedToken) and exc.token.type != "$END":
        return _bad_token(exc.token, exc.expected, where)
    if isinstance(exc, (UnexpectedToken, UnexpectedEOF)):
        return _unexpected_end(where)
    return _error(f"invalid .score syntax: {str(exc).splitlines()[0] if str(exc) else 'syntax error'}",
                     where.span(0), _SYNTAX_HINT)


def _bad_character(index: int, where: Any) -> SpecError:
    char = where.text[index]
    span = where.span(index, index + 1)
    if char == '"':
        return _error("unterminated string", span, "a string closes with \" on the same line")
    if char == "'":
        return _error("strings are written in double quotes", span, 'write "text", not \'text\'')
    if char == "^":
        return _error("'^' is not a power operator", span, "use ** for powers, e.g. t**2")
    if char == ":":
        return _error("unexpected ':'", span, "in .score files a key is set with '=': steps = 500")
    shown = char if char.isprintable() else f"U+{ord(char):04X}"
    return _error(f"unexpected character '{shown}'", span, _SYNTAX_HINT)


def _bad_token(token: Any, expected: set[str], where: Any) -> SpecError:
    start, end = token.start_pos, token.end_pos
    span = where.span(start, end)
    number = _malformed_number(start, where.text)
    if number is not None:
        begin, word = number
        return _error(f"malformed number '{word}'", where.span(begin, begin + len(word)), _NUMBER_HINT)
    found = _describe(token)
    if token.type == "RBRACE" and "RBRACE" not in expected:
        if "STRING" in expected:  # only where a value is due
            return _error(f"expected a value before {found}", span, "write key = value")
        return _error("unmatched '}'", span, "every '}' closes a section opened with '{'")
    if token.type in ("NAME", "NUMBER", "STRING", "LSQB") and "EQUAL" in expected:
        return _error(f"expected '=' before {found}", span, "set a key with '=': steps = 500; "
                         "a section is `name [kind] { ... }`")
    if token.type == "EQUATION":
        return _error("an equation 'dx = ...' belongs inside a section", span, "process sde { dx = ... }")
    wanted = sorted({_WORDS.get(name, repr(name)) for name in expected if not name.startswith("__")})
    hint = "expected " + (", ".join(wanted[:-1]) + " or " + wanted[-1] if len(wanted) > 1 else wanted[0]) \
        if wanted else _SYNTAX_HINT
    return _error(f"unexpected {found}", span, hint)


def _malformed_number(start: int, text: str) -> tuple[int, str] | None:
    """(start, text) of a run like `1.2.3` or `2e-` that a token at `start` breaks off."""
    begin = start
    while begin > 0 and (text[begin - 1].isalnum() or text[begin - 1] in "._"
                         or (text[begin - 1] in "+-" and begin > 1 and text[begin - 2] in "eE")):
        begin -= 1
    if begin == start or not (text[begin].isdigit() or (text[begin] == "." and text[begin + 1:begin + 2].isdigit())):
        return None
    word = _NUMBER_RUN.match(text, begin).group(0)
    return (begin, word) if len(word) > start - begin else None


def _unexpected_end(where: Any) -> SpecError:
    opened: list[int] = []
    text = where.text
    for index in scan(text)[1]:
        if text[index] == "{":
            opened.append(index)
        elif text[index] == "}" and opened:
            opened.pop()
    end = len(text.rstrip())
    if opened:
        line = where.position(opened[-1])[0]
        return _error("unexpected end of file: a section is not closed", where.span(max(0, end - 1), end),
                         f"the '{{' on line {line} has no matching '}}'")
    return _error("unexpected end of file", where.span(max(0, end - 1), end), "the last statement is not complete")


def _describe(token: Any) -> str:
    if token.type == "NAME":
        return f"name '{token}'"
    if token.type == "NUMBER":
        return f"number '{token}'"
    if token.type == "STRING":
        return "string"
    return f"'{token}'"


def _error(message: str, span: Span, hint: str | None = None) -> SpecError:
    """A .score syntax error (core/codes.py E0102)."""
    return SpecError(message, span, hint, "E0102")
