"""What the `.score` loader and the printers ask of the spec schema (scorec/spec.py).

* which key a section's kind word fills (`sample pc { }` -> `sampler: pc`);
* the canonical order of a mapping's keys: the order of the fields in the schema model
  that validates it, then keys the schema does not know, as written.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

# the key that picks a component when the schema cannot say (a section it does not know)
FALLBACK_TAG = "kind"


def tag_of(path: tuple, root: dict) -> tuple[str | None, tuple[str, str] | None]:
    """(key the kind word of the section at `path` fills, or a (message, hint) problem).

    A field that chooses a component takes its family's tag; a plain section takes the
    first field that names a component alone (`model eps` -> parameterization). A section
    the schema does not know takes `kind`, so validation can report the section itself.
    """
    from ..components import registry
    from ..spec import family_of
    from ..validate import model_at

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


def kind_key(path: tuple, root: dict) -> str | None:
    """The key whose value the printer writes as the kind word of the section at `path`."""
    tag, problem = tag_of(path, root)
    return None if problem is not None else tag


def field_order(path: tuple, root: dict) -> list[str]:
    """Keys of the schema model at `path`, in the order spec.py declares them."""
    from ..validate import model_at

    model = model_at(path, root)
    return list(model.model_fields) if model is not None else []


def ordered_keys(mapping: dict, path: tuple, root: dict) -> list[Any]:
    """`mapping`'s keys in canonical order: the key naming the component (kind, source,
    sampler) first, then schema fields in declared order, then the rest as written."""
    from ..validate import TAG_FIELDS

    known = field_order(path, root)
    known = [k for k in known if k in TAG_FIELDS] + [k for k in known if k not in TAG_FIELDS]
    rank = {name: i for i, name in enumerate(known)}
    return sorted(mapping, key=lambda k: rank.get(k, len(rank)))  # stable: unknown keys as written
