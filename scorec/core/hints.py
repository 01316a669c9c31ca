"""Hints as data: prose with structured fixes, which each input format writes in its own syntax.

A fix says what to write (set a key, add a key, choose a component's kind, define a helper
function), not how: frontend/hint_words.py writes it as YAML (`scorec: 1`) or as .score
(`scorec 1`). So one diagnostic serves both formats, with no rewriting of its words.
str() of a fix is its plain (YAML-like) wording, for logs.

    hint("use ", SetKey(("churn",), (0,)), " with the optimized grid")
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any, Protocol, Union


@dataclass(frozen=True)
class SetKey:
    """Set the key at `path` to `values[0]`, or to one of `values`. The path runs from the
    spec's top; a check that knows only its own section gives the key there, and the error's
    maker (ctx.error, a FieldError's translation) puts the section in front (`anchored`)."""

    path: tuple
    values: tuple

    def __str__(self) -> str:  # `steps: 50` | steps: 50, 100
        text = f"{self.path[-1]}: {', '.join(map(_plain, self.values))}"
        return f"`{text}`" if len(self.values) == 1 else text


@dataclass(frozen=True)
class AddKey:
    """Add the missing key at `path`: a section (a mapping of its own) or a value."""

    path: tuple
    section: bool = False

    def __str__(self) -> str:
        return f"`{self.path[-1]}:`"


@dataclass(frozen=True)
class ChooseKind:
    """Choose one of `kinds` for the component of `family`; `tag` is the family's key that
    names the kind (None where the spec names the kind alone: `parameterization: eps`).
    Where in the spec that is, is the Layout's to say (schema/query.py)."""

    family: str
    kinds: tuple
    tag: str | None = None

    def __str__(self) -> str:  # sampler: a, b | process kind: a, b | parameterization: a
        key = self.family if self.tag in (None, self.family) else f"{self.family} {self.tag}"
        kinds = " or ".join(self.kinds) if len(self.kinds) == 2 else ", ".join(self.kinds)
        return f"{key}: {kinds}"


@dataclass(frozen=True)
class DefineHelper:
    """Define the helper function `name(t) = body` in an SDE process (how: after "define it")."""

    name: str
    body: str

    def __str__(self) -> str:
        return f'under `where:`, e.g. where: {{{self.name}: "{self.body}"}}'


Fix = Union[SetKey, AddKey, ChooseKind, DefineHelper]


def _plain(value: Any) -> str:
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    return str(value)


@dataclass(frozen=True)
class Hint:
    """A hint with structured fixes among its words: ("use ", ChooseKind(...), " instead")."""

    parts: tuple  # of str and Fix

    def text(self, words: "HintWords | None" = None) -> str:
        return "".join(p if isinstance(p, str) else (words.fix(p) if words else str(p)) for p in self.parts)

    def __str__(self) -> str:
        return self.text()

    def __contains__(self, text: str) -> bool:
        return text in str(self)


def hint(*parts: "str | Fix | Hint | None") -> "str | Hint | None":
    """A hint from words and fixes (None and empty parts dropped); plain words stay a str."""
    flat: list = []
    for part in parts:
        for p in part.parts if isinstance(part, Hint) else (part,):
            if isinstance(p, str) and flat and isinstance(flat[-1], str):
                flat[-1] += p
            elif p:
                flat.append(p)
    if not flat:
        return None
    return flat[0] if len(flat) == 1 and isinstance(flat[0], str) else Hint(tuple(flat))


def anchored(words: "str | Hint | None", section: tuple) -> "str | Hint | None":
    """A hint whose fixes name keys of the section at `section` (`("churn",)` in a sampler's
    check) with their paths from the spec's top (`("sample", "churn")`)."""
    if not isinstance(words, Hint):
        return words
    moved = tuple(replace(p, path=section + p.path) if isinstance(p, (SetKey, AddKey)) else p for p in words.parts)
    return Hint(moved)


class HintWords(Protocol):
    """How one input format writes fixes (frontend/hint_words.py: YAML, .score)."""

    def fix(self, fix: Fix) -> str: ...
