"""What parsing and printing need to know of the spec's shape, handed in as an object.

The `.score` loader must know which key a section's kind word fills (`sample pc { }` is
`sampler: pc`), the printers the canonical order of a mapping's keys, and the hints' writers
where a spec names a family's kind. These are facts of the spec schema, which the frontend
does not import: the caller passes a Layout (the schema side builds one,
scorec/schema/query.py SPEC_LAYOUT), so parsing stays below it.
"""

from __future__ import annotations

from typing import Any, Protocol


class Layout(Protocol):
    def tag_of(self, path: tuple, root: dict) -> tuple[str | None, tuple[str, str] | None]:
        """(the key the kind word of the section at `path` fills, or None and a (message, hint)
        saying why that section takes no kind word); `root` is the whole spec read so far."""
        ...

    def field_order(self, path: tuple, root: dict) -> list[str]:
        """The keys of the mapping at `path` in canonical order (keys not listed come after)."""
        ...

    def place_of(self, family: str) -> tuple | None:
        """The path of the key that names the kind of a `family` component (`sample.sampler`)."""
        ...


def kind_key(layout: Layout, path: tuple, root: dict) -> str | None:
    """The key whose value the printer writes as the kind word of the section at `path`."""
    tag, problem = layout.tag_of(path, root)
    return None if problem is not None else tag


def ordered_keys(layout: Layout, mapping: dict, path: tuple, root: dict) -> list[Any]:
    """`mapping`'s keys in canonical order: as the layout lists them, then the rest as written."""
    rank = {name: i for i, name in enumerate(layout.field_order(path, root))}
    return sorted(mapping, key=lambda k: rank.get(k, len(rank)))  # stable: unknown keys as written
