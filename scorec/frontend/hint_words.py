"""How each input format writes a hint's fixes (core/hints.py): one writer for YAML, one for .score.

A diagnostic is data, the same for both formats; only its fixes are written in the syntax of
the file the user wrote:

    fix                                          YAML                       .score
    SetKey(("scorec",), (1,))                    `scorec: 1`                `scorec 1`
    SetKey(("sample", "churn"), (0,))            `churn: 0`                 `churn = 0`
    ChooseKind("sampler", ("ddim", "em"), ...)   sampler: ddim or em        sample ddim or em
    AddKey(("process", "kind"))                  `kind:`                    `process <kind> { ... }`
    AddKey(("data",), section=True)              `data:`                    `data { ... }`
    DefineHelper("b", "0.1 + 19.9 * t")          under `where:`, e.g. ...   in the process section, e.g. b(t) = ...

Where a spec names a component's kind (a kind word in .score) is the Layout's to say
(frontend/layout.py; the schema side builds it), so this module knows no schema.
"""

from __future__ import annotations

import json
from typing import Any

from ..core.hints import AddKey, ChooseKind, DefineHelper, Fix, SetKey
from .layout import Layout, kind_key
from .source import resolve_plain


def _listed(words: list[str]) -> str:
    return " or ".join(words) if len(words) == 2 else ", ".join(words)


class YamlWords:
    """Fixes as a YAML spec writes them."""

    def __init__(self, layout: Layout):
        self.layout = layout

    def fix(self, fix: Fix) -> str:
        if isinstance(fix, SetKey):
            values = [self.value(v) for v in fix.values]
            return f"`{fix.path[-1]}: {values[0]}`" if len(values) == 1 else f"{fix.path[-1]}: {_listed(values)}"
        if isinstance(fix, ChooseKind):  # the family's key, named with its section where it is a plain `kind`
            place = self.layout.place_of(fix.family) or (fix.family,)
            key = place[-1] if place[-1] == fix.family or len(place) < 2 else f"{place[-2]} {place[-1]}"
            return f"{key}: {_listed(list(fix.kinds))}"
        if isinstance(fix, AddKey):
            return f"`{fix.path[-1]}:`"
        if isinstance(fix, DefineHelper):
            return f'under `where:`, e.g. where: {{{fix.name}: "{fix.body}"}}'
        raise TypeError(f"no YAML words for {fix!r}")

    @staticmethod
    def value(value: Any) -> str:
        if value is None or isinstance(value, bool):
            return {None: "null", True: "true", False: "false"}[value]
        if isinstance(value, str):  # plain where it reads back as the same string
            plain = value and value == value.strip() and not any(c in value for c in ":#[]{},'\"&*!|>%@`")
            return value if plain and resolve_plain(value) == value else json.dumps(value)
        if isinstance(value, list):
            return "[" + ", ".join(YamlWords.value(v) for v in value) + "]"
        return repr(value)


class ScoreWords:
    """Fixes as a .score spec writes them: `key = value` in a section, `key value` at the top,
    a component's kind as the word after its section's name."""

    def __init__(self, layout: Layout):
        self.layout = layout

    def fix(self, fix: Fix) -> str:
        if isinstance(fix, ChooseKind):
            fix = SetKey(self.layout.place_of(fix.family) or (fix.family,), fix.kinds)
        if isinstance(fix, SetKey):
            values = [self.value(v) for v in fix.values]
            word = self._kind_word(fix.path)
            if word is not None:  # `process edm { ... }`
                return f"`{word} {values[0]} {{ ... }}`" if len(values) == 1 else f"{word} {_listed(values)}"
            key = fix.path[-1]
            between = " " if self._top(fix.path) else " = "  # `scorec 1` at the top, `steps = 50` in a section
            return f"`{key}{between}{values[0]}`" if len(values) == 1 else f"{key}{between}{_listed(values)}"
        if isinstance(fix, AddKey):
            word = self._kind_word(fix.path)
            if word is not None:
                return f"`{word} <kind> {{ ... }}`"
            if fix.section:
                return f"`{fix.path[-1]} {{ ... }}`"
            return f"`{fix.path[-1]} ...`" if self._top(fix.path) else f"`{fix.path[-1]} = ...`"
        if isinstance(fix, DefineHelper):
            return f"in the process section, e.g. {fix.name}(t) = {fix.body}"
        raise TypeError(f"no .score words for {fix!r}")

    def _top(self, path: tuple) -> bool:
        """Whether the key at `path` is one of the spec's top-level values (`name`), not a key
        of the section the diagnostic is in."""
        return len(path) == 1 and path[0] in self.layout.field_order((), {})

    def _kind_word(self, path: tuple) -> str | None:
        """The section whose kind word the key at `path` is (`sample` for sample.sampler), if it is one."""
        if len(path) < 2:
            return None
        return str(path[-2]) if kind_key(self.layout, path[:-1], {}) == path[-1] else None

    def value(self, value: Any) -> str:
        from .score_printer import ScorePrinter

        return ScorePrinter({}, self.layout).value(value, ())
