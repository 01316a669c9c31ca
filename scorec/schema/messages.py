"""Wording of the diagnostics that the compiler composes from the component registry.

Kept in one place so that messages stay uniform as components are added: no component
writes its own compatibility message, the registry's declarations fill these in.
"""

from __future__ import annotations

from ..components import registry
from ..components.registry import Component, choice
from ..core.diagnostics import Span, SpecError
from ..core.hints import hint


def needs_error(comp: Component, other: str, trait: str, chosen: dict[str, Component], span: Span) -> SpecError:
    """`comp` needs a component of family `other` with `trait`, and the chosen one lacks it."""
    phrase = registry.FAMILIES[other].traits[trait].phrase
    got = chosen[other].kind
    parts: list = []
    alternatives = registry.satisfied_by(comp.family, chosen)
    if alternatives:
        parts += [f"for {other} '{got}' use ", choice(comp.family, alternatives)]
    providers = registry.fitting(other, {other: (trait,)})
    optional = [f"{kind} with {option}" for kind, option in registry.fitting_when(other, trait)]
    if providers:
        parts += ["; or use " if parts else "use ", choice(other, providers)]
    if optional:  # a kind that gives the trait with one of its options (npz with label_key)
        parts += [f" (or {', '.join(optional)})"]
    return SpecError(f"{comp.family} '{comp.kind}' needs {phrase} (got {other} '{got}')", span, hint(*parts), "E0301")
