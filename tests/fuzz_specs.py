"""What the fuzz tests draw specs from: values of every YAML type, at every key the schema knows.

* `VALUES`: null, booleans, integers (huge ones too), floats (inf, nan), strings, the
  registry's kinds, and lists and mappings of them, nested; written as YAML flow text by
  `flow` (for `--set` and for spec files) or as .score by the score printer;
* `KEYS`: every key of the spec schema, as a path: each section's fields and each
  component's options, the keys that name a kind (`kind`, `source`, `sampler`, a scalar
  family such as `model.parameterization`) drawn as often as all the others together;
* `CHANGES`: a few (path, value) changes to a spec: values at keys, or a whole component
  section of a drawn kind with values of every type at some of its own options (so a
  component's checks meet them: an npz `path` holding a NUL byte);
* `located`: a spec error points into a text it came from, and renders (in YAML's and in
  .score's words) without a traceback.
"""

from __future__ import annotations

import math
import os
import types
import typing
from typing import Any

from hypothesis import strategies as st
from pydantic import BaseModel

from scorec.components import registry
from scorec.core.diagnostics import SpecError, SpecErrors, render_all, source_lines
from scorec.frontend.hint_words import ScoreWords, YamlWords
from scorec.schema.query import SPEC_LAYOUT, TAG_FIELDS
from scorec.schema.spec import Spec, family_of

# Examples per fuzz test: small in CI; `SCOREC_FUZZ_EXAMPLES=3000 pytest tests/test_*fuzz*.py` for a long run.
EXAMPLES = int(os.environ.get("SCOREC_FUZZ_EXAMPLES", "0")) or None


def examples(ci: int) -> int:
    return EXAMPLES or ci


def _models(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models a field's annotation may hold (through Optional, Union, Annotated, list)."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Annotated, typing.Union, types.UnionType, list, tuple):
        return [m for a in typing.get_args(annotation) for m in _models(a)]
    return [annotation] if isinstance(annotation, type) and issubclass(annotation, BaseModel) else []


def schema_keys() -> tuple[list[tuple], list[tuple]]:
    """(paths of the keys that name a component's kind, paths of every other key)."""
    tags, others, seen = set(), set(), set()
    todo: list[tuple[tuple, type[BaseModel]]] = [((), Spec)]
    while todo:
        path, model = todo.pop()
        if (path, model) in seen:
            continue
        seen.add((path, model))
        for name, info in model.model_fields.items():
            here = path + (name,)
            family = family_of(info)
            (tags if name in TAG_FIELDS or (family and registry.FAMILIES[family].scalar) else others).add(here)
            members = [c.options for c in registry.components(family).values()] if family else []
            todo += [(here, m) for m in members + _models(info.annotation)]
    return sorted(tags), sorted(others)


TAG_KEYS, OTHER_KEYS = schema_keys()
KEYS = st.one_of(st.sampled_from(TAG_KEYS), st.sampled_from(OTHER_KEYS))
KINDS = sorted({c.kind for c in registry.all_components()})
NAMES = sorted({p[-1] for p in TAG_KEYS + OTHER_KEYS})

# strings that have broken a stage before: a NUL byte or an unpaired surrogate in a file name,
# a name too long for the file system, a home folder that does not exist, a formula's text
AWKWARD = ["\x00", "a\x00b", "\ud800", "\udcff.npz", "a" * 300, "~no_such_user/x", "../..", "", " ",
           "t", "sigma(t)**2", "1/t", "exp(1000*t)", "dx = -x dt + dw", "__import__('os')", "\u202e", "\n"]
SCALARS = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 3000), st.integers(-10**30, 10**30),
    st.floats(allow_nan=True, allow_infinity=True), st.sampled_from([0.0, -0.0, 1e-300, 0.5, 1.0, 2.0**31]),
    st.text(max_size=6), st.sampled_from(KINDS), st.sampled_from(AWKWARD),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.one_of(st.sampled_from(NAMES), st.text(max_size=4)), inner, max_size=3)),
    max_leaves=6,
)


def _section(family: str) -> st.SearchStrategy:
    """A section choosing a `family` component of any kind, some of its options any values."""
    tag = registry.FAMILIES[family].tag
    kinds = sorted(registry.components(family).values(), key=lambda c: c.kind)

    def options(component) -> st.SearchStrategy:
        names = sorted(set(component.options.model_fields) - {tag})
        fields = st.dictionaries(st.sampled_from(names), VALUES, max_size=3) if names else st.just({})
        return fields.map(lambda d: {tag: component.kind, **d})

    return st.sampled_from(kinds).flatmap(options)


SECTIONS = st.one_of([
    st.tuples(st.just(SPEC_LAYOUT.place_of(family)[:-1]), _section(family))
    for family, fam in sorted(registry.FAMILIES.items()) if not fam.scalar
])
CHANGES = st.lists(st.one_of(st.tuples(KEYS, VALUES), SECTIONS), min_size=1, max_size=3)


def flow(value: Any) -> str:
    """A value as YAML 1.2 flow text that reads back as that value."""
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, float) and not math.isfinite(value):
        return ".nan" if math.isnan(value) else (".inf" if value > 0 else "-.inf")
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, str):  # double-quoted, every character outside printable ASCII escaped
        return '"' + "".join(c if " " <= c <= "~" and c not in '"\\' else
                             {'"': '\\"', "\\": "\\\\"}.get(c) or
                             (f"\\u{ord(c):04x}" if ord(c) < 0x10000 else f"\\U{ord(c):08x}") for c in value) + '"'
    if isinstance(value, dict):
        return "{" + ", ".join(f"{flow(k)}: {flow(v)}" for k, v in value.items()) + "}"
    return "[" + ", ".join(flow(v) for v in value) + "]"


def put(data: dict, path: tuple, value: Any) -> None:
    """Set `path` in a spec tree to `value`, making the sections on the way mappings."""
    node = data
    for key in path[:-1]:
        if not isinstance(node.get(key), dict):
            node[key] = {}
        node = node[key]
    node[path[-1]] = value


WORDS = (YamlWords(SPEC_LAYOUT), ScoreWords(SPEC_LAYOUT))


def located(exc: SpecError | SpecErrors, sources: dict[str, str]) -> None:
    """Every error points at a line of a text it came from, and renders in both formats' words."""
    errors = exc.errors if isinstance(exc, SpecErrors) else [exc]
    for error in errors:
        span = error.span
        assert span is not None, error
        lines = source_lines(sources[span.file])
        assert 1 <= span.line <= max(1, len(lines)), (error, len(lines))
    for words in WORDS:
        render_all(errors, sources, words)
