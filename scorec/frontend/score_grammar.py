"""The `.score` language's grammar and words, shared by its loader, its syntax errors and
its printer: the LALR parser of dsl.lark, the scan for comments and brackets that runs
beside it, and the words, numbers and keys the language gives a meaning.

Lark is imported on first use, so `scorec check` on a YAML spec never pays for it.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

SIGNED_NUMBER = re.compile(r"[-+]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?")
WORDS = {"true": True, "false": False, "null": None}
SPECIALS = {".inf": float("inf"), "+.inf": float("inf"), "-.inf": float("-inf"), ".nan": float("nan"),
            "+.nan": float("nan"), "-.nan": float("nan")}
EQUATION_KEY, HELPERS_KEY = "equation", "where"  # what `dx = ...` and `f(t) = ...` lines fill


@lru_cache(maxsize=1)
def score_parser() -> Any:
    """The Lark LALR parser of dsl.lark, built once per process."""
    from importlib import resources

    from lark import Lark

    grammar = resources.files(__package__).joinpath("dsl.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", lexer="contextual", propagate_positions=True)


_STRING = re.compile(r'"([^"\\\n\r]|\\[^\n\r])*"?')
_COMMENT = re.compile(r"#[^\n\r]*")


def scan(text: str) -> tuple[list[tuple[int, str]], list[int]]:
    """(index, text) of every `# ...` comment, and the index of every bracket, outside strings."""
    comments, brackets, i, n = [], [], 0, len(text)
    while i < n:
        ch = text[i]
        if ch == '"':
            i = _STRING.match(text, i).end()
            continue
        if ch == "#":
            end = _COMMENT.match(text, i).end()
            comments.append((i, text[i:end].rstrip()))
            i = end
            continue
        if ch in "()[]{}":
            brackets.append(i)
        i += 1
    return comments, brackets
