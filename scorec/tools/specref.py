"""The spec reference (docs/spec-reference.md), written from the schema and the registry.

Every key a spec may hold, with its type, default and the few words its definition gives
(`Field(description=...)`); a section that chooses a component lists every kind of that
family with its own options, what it needs of the other families and what it provides.
Nothing here is written by hand, so the reference cannot drift from the code:
tests/test_docs.py compares the file with this output (regenerate it with
`python -m scorec.tools.specref > docs/spec-reference.md`).
"""

from __future__ import annotations

import inspect
import types
import typing
from typing import Any, Literal

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from ..components import registry
from ..schema.spec import Spec, family_of

HEADER = """# Spec reference (format version 1)

Generated from scorec's schema and component registry by `python -m scorec.tools.specref`;
do not edit by hand (tests/test_docs.py keeps it in sync). The same information, for
editors, is `scorec schema` (JSON Schema). A spec's sections, in the order `scorec fmt`
writes them:
"""


def reference() -> str:
    """The whole reference as Markdown."""
    _described.clear()
    out = [HEADER, _fields_table(Spec, ""), ""]
    for name, info in Spec.model_fields.items():
        out += _section(name, info, name, level=2)
    return "\n".join(out).rstrip() + "\n"


def _section(name: str, info: FieldInfo, path: str, level: int) -> list[str]:
    family = family_of(info)
    if family is not None:
        return _family(family, path, level)
    model = _model_of(info.annotation)
    if model is None:
        return []
    about = _doc(model) or info.description or ""
    out = [f"{'#' * level} `{path}`", ""] + ([about, ""] if about else []) + [_fields_table(model, path), ""]
    for child, child_info in model.model_fields.items():
        out += _section(child, child_info, f"{path}.{child}", level + 1)
    return out


def _family(family: str, path: str, level: int) -> list[str]:
    fam = registry.FAMILIES[family]
    members = registry.components(family)
    default = registry.default_kind(family)
    how = (f"`{path}: KIND` names the kind" if fam.scalar
           else f"`{path}: {{{fam.tag}: KIND, ...}}` picks the kind; its options sit beside the tag")
    out = [f"{'#' * level} `{path}` ({family})", "",
           f"{how}. Kinds: {', '.join(f'`{k}`' for k in sorted(members))}"
           + (f" (default `{default}`)." if default else "."), ""]
    for kind in sorted(members):
        comp = members[kind]
        out += [f"{'#' * (level + 1)} {family} `{kind}`", ""]
        doc = _doc(comp.options) or _module_doc(comp.module)
        if doc:
            out += [doc, ""]
        facts = []
        if comp.needs:
            facts.append("needs " + "; ".join(f"{other}: {', '.join(traits)}"
                                              for other, traits in sorted(comp.needs.items())))
        if comp.traits:
            facts.append("provides " + ", ".join(comp.traits))
        if comp.default_for:
            facts.append("default where the process is " + ", ".join(comp.default_for))
        if facts:
            out += ["*" + "; ".join(facts) + ".*", ""]
        if any(k != fam.tag for k in comp.options.model_fields):
            out += [_fields_table(comp.options, path, skip=fam.tag), ""]
        for child, info in comp.options.model_fields.items():
            out += _nested(child, info, f"{path}.{child}", level + 2, f"{family} `{kind}`")
    return out


_described: dict[object, str] = {}  # nested sections already written out, and where


def _nested(name: str, info: FieldInfo, path: str, level: int, owner: str) -> list[str]:
    """A section or component inside a component's options (a sampler's grid, pc's corrector):
    written out the first time it appears, referred to after that."""
    key = family_of(info) or _model_of(info.annotation)
    if key is None:
        return []
    if key in _described:
        return [f"`{path}`: as under {_described[key]}.", ""]
    _described[key] = owner
    return _section(name, info, path, level)


def _fields_table(model: type[BaseModel], path: str, skip: str | None = None) -> str:
    rows = ["| key | type | default | meaning |", "|---|---|---|---|"]
    for name, info in model.model_fields.items():
        if name == skip:
            continue
        family = family_of(info)
        where = f"`{path + '.' if path else ''}{name}`"
        if family:
            kind = f"{family}, see {where}"
        elif _model_of(info.annotation) is not None:
            kind = f"section, see {where}"
        else:
            kind = _type_text(info)
        rows.append(f"| `{name}` | {kind} | {_default_text(info)} | {_cell(info.description or '')} |")
    return "\n".join(rows)


def _type_text(info: FieldInfo) -> str:
    return _cell(_annotation_text(info.annotation, info.metadata))


def _annotation_text(annotation: Any, metadata: list) -> str:
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is typing.Annotated:
        return _annotation_text(args[0], list(args[1:]) + list(metadata))
    if origin is Literal:
        return " | ".join(f"`{a}`" for a in args)
    if origin in (typing.Union, types.UnionType):
        parts = [_annotation_text(a, metadata) for a in args if a is not type(None)]
        return " or ".join(parts) + (" or null" if type(None) in args else "")
    if origin in (list, tuple):
        inner = [a for a in args if a is not Ellipsis]
        return "list of " + (_annotation_text(inner[0], []) if inner else "values")
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return "section"
    names = {bool: "boolean", int: "integer", float: "number", str: "string"}
    text = names.get(annotation, getattr(annotation, "__name__", str(annotation)))
    bounds = _bounds(metadata)
    return f"{text} ({bounds})" if bounds else text


def _bounds(metadata: list) -> str:
    """The range checks of a number: annotated_types' Gt/Ge/Lt/Le, also inside a nested Field(...)."""
    words = []
    for m in metadata:
        if isinstance(m, FieldInfo):
            words.append(_bounds(m.metadata))
            continue
        for attr, sign in (("gt", ">"), ("ge", "≥"), ("lt", "<"), ("le", "≤")):
            if isinstance(m, annotated_types.BaseMetadata) and getattr(m, attr, None) is not None:
                value = getattr(m, attr)
                words.append(f"{sign} {value:g}" if isinstance(value, float) else f"{sign} {value}")
    return ", ".join(dict.fromkeys(w for w in words if w))


def _default_text(info: FieldInfo) -> str:
    if info.default is PydanticUndefined:
        if info.default_factory is None:
            return "required"
        try:
            value = info.default_factory()
        except TypeError:
            return "computed"
    else:
        value = info.default
    if isinstance(value, BaseModel):
        return "(its keys' defaults)"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return f"`{value}`"


def _model_of(annotation: Any) -> type[BaseModel] | None:
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _doc(model: type) -> str:
    """The options class's own docstring (not a base class's), on one paragraph."""
    doc = model.__dict__.get("__doc__")
    return " ".join(inspect.cleandoc(doc).split("\n\n")[0].split()) if doc else ""


def _module_doc(module: str) -> str:
    """A component module's docstring, first paragraph (where the options class has none)."""
    import importlib

    doc = importlib.import_module(module).__doc__
    return " ".join(inspect.cleandoc(doc).split("\n\n")[0].split()) if doc else ""


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


if __name__ == "__main__":
    print(reference(), end="")
