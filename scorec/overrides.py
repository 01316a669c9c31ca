"""`--set` overrides, applied to a loaded Document.

`--set sample.sampler=em` on a spec whose sample section configures `pc` would leave
`corrector:` behind, a key `em` does not take. When an override switches a section's
variant (its `kind`, `source` or `sampler`), the section's keys that the new variant
does not accept are dropped, and a note says so: the user asked for the switch.
"""

from __future__ import annotations

from .frontend.yaml_loader import Document, apply_override
from .spec import fill_defaults
from .validate import TAG_FIELDS, model_at


def apply_overrides(doc: Document, overrides: list[str] | tuple[str, ...]) -> tuple[Document, list[str]]:
    """Apply each `key.path=value` in order; returns the document and notes for the user."""
    paths = {}
    for index, text in enumerate(overrides, start=1):
        doc = apply_override(doc, text, index)
        paths[tuple(text.split("=", 1)[0].strip().split("."))] = text
    notes = []
    for path, text in paths.items():
        if path and path[-1] in TAG_FIELDS:
            notes += _drop_foreign_keys(doc, path[:-1], f"--set {text}", set(paths))
    return doc, notes


def _drop_foreign_keys(doc: Document, section: tuple, why: str, overridden: set[tuple]) -> list[str]:
    node = doc.data
    for key in section:
        node = node.get(key) if isinstance(node, dict) else None
    model = model_at(section, fill_defaults(doc.data))
    if not isinstance(node, dict) or model is None:
        return []

    def set_by_user(key: str) -> bool:
        return any(p[: len(section) + 1] == section + (key,) for p in overridden)

    foreign = [k for k in node if k not in model.model_fields and not set_by_user(k)]
    for key in foreign:
        del node[key]
    return [f"{why} drops {'.'.join(section + (k,))}, which the new choice does not take" for k in foreign]
