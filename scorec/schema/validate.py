"""The schema stage: a loaded Document -> a validated Spec, every error located.

pydantic reports errors by `loc` (a path through the model, with discriminator tags
interleaved); here each is mapped back to the YAML node it came from and reworded
for people, with a "did you mean" hint where one helps.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pydantic import BaseModel, ValidationError

from ..components import registry
from ..components.options import FieldError
from ..core.diagnostics import Span, SpecError, SpecErrors, describe, did_you_mean, source_lines
from ..core.hints import AddKey, SetKey, anchored, hint
from ..frontend.source import Document
from .query import TAG_FIELDS, model_at, tag_value, union_members
from .spec import Spec, family_of, fill_defaults

VERSION = SetKey(("scorec",), (1,))  # what a spec of format version 1 says first


def validate(doc: Document) -> Spec:
    """Validate a document against spec format v1; raises SpecErrors, all located."""
    raw = fill_defaults(doc.data)
    try:
        return Spec.model_validate(raw)
    except ValidationError as exc:
        errors = [_widened(_translate(err, raw, doc), doc) for err in exc.errors(include_url=False)]
        raise SpecErrors(_dedupe(errors)) from None


def _widened(error: SpecError, doc: Document) -> SpecError:
    """Underline a whole one-line flow collection (`[0.7, 0.3]`), not just its bracket.

    The loader records only where a collection starts; the caret then sits under `[`.
    """
    span = error.span
    if span is None or (span.end_col is not None and span.end_col > span.col + 1):
        return error
    lines = source_lines(doc.sources().get(span.file, ""))
    if not 1 <= span.line <= len(lines):
        return error
    line = lines[span.line - 1]
    start = span.col - 1
    if start >= len(line) or line[start] not in "[{":
        return error
    depth, quote = 0, None
    for i in range(start, len(line)):
        c = line[i]
        if quote:
            quote = None if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c in "[{":
            depth += 1
        elif c in "]}":
            depth -= 1
            if depth == 0:
                return replace(error, span=Span(span.file, span.line, span.col, span.line, i + 2))
    return error


def _dedupe(errors: list[SpecError]) -> list[SpecError]:
    seen, out = set(), []
    for e in errors:
        key = (e.span, e.message)
        if key not in seen:
            seen.add(key)
            out.append(e)
    return out


def _raw_path(loc: tuple, raw: Any) -> tuple:
    """Drop the discriminator tags and validator names pydantic interleaves into `loc`."""
    path, node = [], raw
    for part in loc:
        if isinstance(node, dict) and part in node:
            path.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            path.append(part)
            node = node[part]
        elif isinstance(node, dict) and isinstance(part, str) and part not in node:
            # a tag ('vp'), a validator ('function-after[...]') or a missing field
            if not _is_tag(node, part):
                path.append(part)
                node = None
    return tuple(path)


def _is_tag(node: dict, part: str) -> bool:
    return any(node.get(f) == part for f in TAG_FIELDS) or "[" in part


def _dotted(path: tuple) -> str:
    return ".".join(str(p) for p in path) or "the spec"


def _translate(err: dict, raw: Any, doc: Document) -> SpecError:
    kind = err["type"]
    loc = tuple(err["loc"])
    path = _raw_path(loc, raw)
    where = _dotted(path)
    value = err.get("input")
    ctx = err.get("ctx", {})

    if kind == "extra_forbidden":
        key = path[-1]
        model = model_at(path[:-1], raw)
        allowed = list(model.model_fields) if model else []
        advice = did_you_mean(str(key), allowed)
        if advice is None:
            advice = _belongs_elsewhere(path, str(key)) or (
                f"allowed keys here: {', '.join(allowed)}" if allowed else None
            )
        section = _dotted(path[:-1])
        return SpecError(f"unknown key '{key}' in {section}", doc.span_of(path, key=True), advice, "E0201")

    if kind in ("union_tag_invalid", "union_tag_not_found"):
        tag = ctx.get("discriminator", "'kind'").strip("'")
        expected = [t.strip().strip("'") for t in str(ctx.get("expected_tags", "")).split(",") if t.strip()]
        if not expected:  # pydantic names the tags only for union_tag_invalid
            expected = [t[1][0] for t in map(tag_value, union_members(path)) if t and t[0] == tag]
        choices = f"one of: {', '.join(expected)}" if expected else None
        if kind == "union_tag_not_found":
            fix = hint("add ", AddKey(path + (tag,)), ", " + choices) if choices else None
            return SpecError(f"{where} needs a '{tag}'", doc.span_of(path, key=True), fix, "E0202")
        got = _raw_at(raw, path + (tag,))
        # `sample: {sampler: emm}` reads "unknown sampler", `process: {kind: vpp}` "unknown process kind"
        what = tag if tag.startswith(str(path[-1]) if path else "\0") else f"{where} {tag}"
        if not isinstance(got, str):  # `process: {kind: [vp]}`: a kind is named by a string
            return SpecError(f"{what} must be a name, got {describe(got)}", doc.span_of(path + (tag,)), choices,
                             "E0205")
        return SpecError(f"unknown {what} '{got}'", doc.span_of(path + (tag,)), did_you_mean(got, expected) or choices,
                         "E0205")

    if kind == "missing":
        return SpecError(
            f"missing required key '{path[-1]}' in {_dotted(path[:-1])}",
            doc.span_of(path[:-1], key=bool(path[:-1])),
            _missing_hint(path, raw),
            "E0202",
        )

    if kind in ("literal_error", "enum"):
        expected = _literal_choices(ctx.get("expected", ""))
        if path == ("scorec",):
            if isinstance(value, int) and not isinstance(value, bool) and value > 1:
                return SpecError(
                    f"spec format version {value} is newer than this scorec, which reads version 1",
                    doc.span_of(path),
                    hint("use the scorec that wrote the spec; a spec meant for version 1 says ", VERSION),
                    "E0207",
                )
            return SpecError(
                f"unsupported spec format version {_quoted(value)}",
                doc.span_of(path),
                hint("this scorec reads format version 1: write ", VERSION),
                "E0207",
            )
        choices = f"one of: {', '.join(expected)}" if expected else None
        family = _family_at(path, raw)
        if family is not None:  # a component named alone: `parameterization: eps`
            if not isinstance(value, str):
                return SpecError(f"{where} must be a name, got {describe(value)}", doc.span_of(path), choices, "E0205")
            return SpecError(f"unknown {family} '{value}'", doc.span_of(path),
                             did_you_mean(value, expected) or choices, "E0205")
        if isinstance(value, str):
            return SpecError(f"unknown value '{value}' for {where}", doc.span_of(path),
                             did_you_mean(value, expected) or choices, "E0206")
        if all(e.isidentifier() for e in expected):  # `eval.metrics: [3]`
            return SpecError(f"{where} must be a name, got {describe(value)}", doc.span_of(path), choices, "E0206")
        return SpecError(f"{where} must be {' or '.join(expected) if len(expected) < 3 else 'one of ' + ', '.join(expected)}"
                         f", got {describe(value)}", doc.span_of(path), None, "E0206")  # `order: true`

    if kind in ("float_type", "float_parsing", "int_type", "int_parsing", "int_from_float", "bool_type", "bool_parsing",
                "string_type", "list_type", "dict_type", "model_type", "model_attributes_type"):
        expected = {
            "float": "a number", "int": "an integer", "bool": "true or false", "string": "a string",
            "list": "a list", "dict": "a mapping", "model": "a mapping",
        }[kind.split("_")[0]]
        advice = None
        if isinstance(value, str) and kind.startswith(("float", "int")) and _is_number(value):
            advice = f"write the number unquoted: {value.strip()}"
        return SpecError(f"{where} must be {expected}, got {describe(value)}", doc.span_of(path), advice, "E0203")

    if kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        op = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}[kind]
        bound = next(iter(ctx.values())) if ctx else "?"
        return SpecError(f"{where} must be {op} {bound}, got {describe(value)}", doc.span_of(path), None, "E0204")

    if kind == "finite_number":
        return SpecError(f"{where} must be a finite number, got {describe(value)}", doc.span_of(path), None, "E0204")

    if kind == "string_pattern_mismatch":
        return SpecError(
            f"{where} {_quoted(value)} may only use lowercase letters, digits, '_' and '-'",
            doc.span_of(path),
            hint("the name becomes a directory name; e.g. ", SetKey(("name",), ("swissroll-vp",))),
            "E0208",
        )

    if kind in ("string_too_long", "too_long", "too_short"):
        return SpecError(f"{where}: {err['msg'].lower()}", doc.span_of(path), None, "E0204")

    if kind == "value_error":
        cause = ctx.get("error")
        msg = str(cause if cause is not None else err["msg"])
        if isinstance(cause, FieldError):  # a model-level check names the fields it is about
            return SpecError(f"{where}: {msg}", doc.span_of(_written_last(path, cause.fields, doc)),
                             anchored(cause.hint, path), cause.code)
        if path and msg.startswith(f"{path[-1]} "):  # "embedding_dim must be even" under ...embedding_dim
            return SpecError(f"{where} {msg[len(str(path[-1])) + 1:]}", doc.span_of(path), None, "E0204")
        return SpecError(f"{where}: {msg}", doc.span_of(path), None, "E0204")

    return SpecError(f"{where}: {err['msg']}", doc.span_of(path), None, "E0203")


def _quoted(value: Any) -> str:
    return f"'{value}'" if isinstance(value, str) else describe(value)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _written_last(path: tuple, fields: tuple, doc: Document) -> tuple:
    """Of the fields a check is about, the one to point at: the one the latest --set
    override wrote, else the first mentioned (the file's own text)."""
    paths = [path + (f if isinstance(f, tuple) else (f,)) for f in fields]

    def override_index(p: tuple) -> int:
        file = doc.span_of(p).file
        return int(file[len("--set #"):]) if file.startswith("--set #") and p in doc.value_spans else 0

    return max(paths, key=override_index)


def _missing_hint(path: tuple, raw: Any) -> Any:
    """What to add for a missing required key: the field's description, from the schema."""
    if path == ("scorec",):
        return hint("a spec starts with the format version: ", VERSION)
    model = model_at(path[:-1], raw)
    field = model.model_fields.get(path[-1]) if model else None
    if field is None:
        return None
    family = family_of(field)
    section = (isinstance(field.annotation, type) and issubclass(field.annotation, BaseModel)) or (
        family is not None and not registry.FAMILIES[family].scalar)
    return hint("add ", AddKey(path, section), f" ({field.description})" if field.description else None)


def _family_at(path: tuple, raw: Any) -> str | None:
    """The component family whose kind the field at `path` holds, if it names one alone."""
    model = model_at(path[:-1], raw) if path else None
    field = model.model_fields.get(path[-1]) if model is not None and isinstance(path[-1], str) else None
    return family_of(field) if field is not None else None


def _raw_at(raw: Any, path: tuple) -> Any:
    for key in path:
        raw = raw.get(key) if isinstance(raw, dict) else None
    return raw


def _literal_choices(expected: str) -> list[str]:
    parts = expected.replace(" or ", ",").split(",")
    return [p.strip().strip("'") for p in parts if p.strip()]


def _belongs_elsewhere(path: tuple, key: str) -> str | None:
    """For `eta` under sampler em: 'eta' is a key of sampler 'ddim'."""
    owners = []
    for m in union_members(path[:-1]):
        if key in m.model_fields:
            tag = tag_value(m)
            if tag:
                owners.append(f"{tag[0]} '{tag[1][0]}'")
    if owners:
        return f"'{key}' is a key of {' and '.join(owners)}"
    return None
