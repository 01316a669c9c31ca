"""Questions about the spec schema (spec.py), asked by validation, overrides, diffs and
the frontend.

* which pydantic model validates the mapping at a path (the union member its tag picks);
* which key a section's kind word fills (`sample pc { }` -> `sampler: pc`);
* the canonical order of a mapping's keys: the key naming its component first, then the
  fields in the order the schema model declares them;
* where a spec names the kind of a family's component (`sample.sampler`).

The last three reach the `.score` loader, the printers and the hints' writers as
SPEC_LAYOUT (a frontend/layout.py Layout) that the caller hands them: parsing knows no schema.
"""

from __future__ import annotations

import types
import typing
from functools import lru_cache
from typing import Any

from pydantic import BaseModel

from ..components import registry
from .spec import Spec, family_of

# The keys whose value picks a component's kind (discriminators), for messages.
TAG_FIELDS = tuple(sorted({f.tag for f in registry.FAMILIES.values()}))
# the key that picks a component when the schema cannot say (a section it does not know)
FALLBACK_TAG = "kind"


def model_at(path: tuple, raw: Any) -> type[BaseModel] | None:
    """The pydantic model class that validates the mapping at `path` in `raw`."""
    model: Any = Spec
    node = raw
    for part in path:
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return None
        field = model.model_fields.get(part) if isinstance(part, str) else None
        if field is None:
            return None
        node = node.get(part) if isinstance(node, dict) else None
        model = _pick_model(field.annotation, node)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def _pick_model(annotation: Any, node: Any) -> Any:
    """Resolve Optional/Union/Annotated to the model class chosen by the node's tag."""
    origin = typing.get_origin(annotation)
    if origin is typing.Annotated:
        return _pick_model(typing.get_args(annotation)[0], node)
    if origin in (typing.Union, types.UnionType):
        members = [m for m in typing.get_args(annotation) if m is not type(None)]
        picked = (_pick_model(m, node) for m in members)
        models = [m for m in picked if isinstance(m, type) and issubclass(m, BaseModel)]
        for m in models:
            tag = tag_value(m)
            if tag and isinstance(node, dict) and node.get(tag[0]) in tag[1]:
                return m
        return models[0] if len(models) == 1 else None
    return annotation


def tag_value(model: type[BaseModel]) -> tuple[str, tuple] | None:
    """(tag field, its Literal values) of a component's options model."""
    for name in TAG_FIELDS:
        field = model.model_fields.get(name)
        if field is not None and typing.get_origin(field.annotation) is typing.Literal:
            return name, typing.get_args(field.annotation)
    return None


def union_members(path: tuple) -> list[type[BaseModel]]:
    """Every model class that may appear at `path` (all members of a union)."""
    parent = model_at(path[:-1], {}) if path else None
    if parent is None:
        return []
    field = parent.model_fields.get(path[-1])
    if field is None:
        return []

    def flatten(a: Any) -> list:
        origin = typing.get_origin(a)
        if origin is typing.Annotated:
            return flatten(typing.get_args(a)[0])
        if origin in (typing.Union, types.UnionType):
            return [m for x in typing.get_args(a) for m in flatten(x)]
        return [a] if isinstance(a, type) and issubclass(a, BaseModel) else []

    return flatten(field.annotation)


class SpecLayout:
    """The spec's shape as the frontend's loader and printers need it (frontend/layout.py)."""

    def tag_of(self, path: tuple, root: dict) -> tuple[str | None, tuple[str, str] | None]:
        """(key the kind word of the section at `path` fills, or a (message, hint) problem).

        A field that chooses a component takes its family's tag; a plain section takes the
        first field that names a component alone (`model eps` -> parameterization). A section
        the schema does not know takes `kind`, so validation can report the section itself.
        """
        parent = model_at(path[:-1], root)
        info = parent.model_fields.get(path[-1]) if parent is not None else None
        if info is None:
            return FALLBACK_TAG, None
        family = family_of(info)
        if family is not None:  # a component's section (a scalar family's too: `parameterization edm { ... }`)
            return registry.FAMILIES[family].tag, None
        model = info.annotation
        if isinstance(model, type) and issubclass(model, BaseModel):
            for name, field in model.model_fields.items():
                scalar = family_of(field)
                if scalar is not None and registry.FAMILIES[scalar].scalar:
                    return name, None
        where = ".".join(map(str, path))
        return None, (f"section '{where}' takes no kind",
                      f"write `{path[-1]} {{ ... }}`, with its settings inside the braces")

    @staticmethod
    @lru_cache(maxsize=None)
    def place_of(family: str) -> tuple | None:
        """The path of the key that names a `family` component's kind, the first in the schema:
        ("sample", "sampler"), ("model", "parameterization"), ("sample", "corrector", "kind")."""
        todo: list[tuple[tuple, type[BaseModel]]] = [((), Spec)]
        while todo:
            path, model = todo.pop(0)
            for name, info in model.model_fields.items():
                here, found = path + (name,), family_of(info)
                if found == family:
                    fam = registry.FAMILIES[family]
                    return here if fam.scalar else here + (fam.tag,)
                if found is not None:
                    todo += [(here, c.options) for c in registry.components(found).values()]
                elif isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel):
                    todo.append((here, info.annotation))
        return None

    def field_order(self, path: tuple, root: dict) -> list[str]:
        """Keys of the schema model at `path`: the key naming the component (kind, source,
        sampler) first, then the fields in the order spec.py and the component declare them."""
        model = model_at(path, root)
        known = list(model.model_fields) if model is not None else []
        return [k for k in known if k in TAG_FIELDS] + [k for k in known if k not in TAG_FIELDS]


SPEC_LAYOUT = SpecLayout()
