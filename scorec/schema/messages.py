"""Wording of the diagnostics that the compiler composes from the component registry.

Kept in one place so that messages stay uniform as components are added: no component
writes its own compatibility message, the registry's declarations fill these in.
"""

from __future__ import annotations

from ..components import registry
from ..components.registry import Component, choice
from ..core.diagnostics import Span, SpecError


def needs_error(comp: Component, other: str, trait: str, chosen: dict[str, Component], span: Span) -> SpecError:
    """`comp` needs a component of family `other` with `trait`, and the chosen one lacks it."""
    phrase = registry.FAMILIES[other].traits[trait].phrase
    got = chosen[other].kind
    hints = []
    alternatives = registry.satisfied_by(comp.family, chosen)
    if alternatives:
        hints.append(f"for {other} '{got}' use {choice(comp.family, alternatives)}")
    providers = registry.fitting(other, {other: (trait,)})
    optional = [f"{kind} with {option}" for kind, option in registry.fitting_when(other, trait)]
    if providers:
        hints.append(f"use {choice(other, providers)}" + (f" (or {', '.join(optional)})" if optional else ""))
    return SpecError(
        f"{comp.family} '{comp.kind}' needs {phrase} (got {other} '{got}')",
        span,
        "; or ".join(hints) or None,
    )
