"""What a component's `lower(ctx)` sees (the `ctx` API): where it sits in the spec, the
components chosen beside it, and the nodes lowered before it; located errors through the
source map (the loaded Document)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from ..components import registry
from ..components.registry import Component
from ..core.diagnostics import OPTIONS_CONFLICT, Span, SpecError
from ..core.hints import anchored
from ..core.ir import Node


class SourceMap(Protocol):
    def span_of(self, path: tuple, key: bool = False) -> Span: ...

    def text_span(self, path: tuple) -> Span | None: ...


@dataclass(frozen=True)
class Context:
    """What a component's `lower(ctx)` sees: where it sits in the spec, and what came before."""

    source: SourceMap
    path: tuple  # of the component's section in the spec
    lowered: dict[str, Node]  # the nodes lowered so far, by family
    chosen: dict[str, Component]  # the top-level component of each family
    checking: bool = False  # only validating (scorec check): skip derivations that change no verdict
    train: Any = None  # the spec's train section (an objective's cost depends on the batch size)

    @property
    def data(self) -> Any:
        return self.lowered["data"]

    @property
    def process(self) -> Any:
        return self.lowered["process"]

    def has(self, family: str, trait: str) -> bool:
        return family in self.chosen and trait in self.chosen[family].traits

    @property
    def condition(self) -> Any:
        """The condition's node (model.condition), None for an unconditional model."""
        return self.lowered.get("condition")

    def span(self, *keys) -> Span:
        return self.source.span_of(self.path + keys)

    def text_span(self, *keys) -> Span | None:
        return self.source.text_span(self.path + keys)

    def error(self, key: str, message: str, hint: Any = None, code: str = OPTIONS_CONFLICT) -> SpecError:
        """A located error at this component's option `key`; `hint` words or a core.hints.Hint
        (its fixes name keys of this component's section, e.g. SetKey(("churn",), (0,))).
        The code (core/codes.py) is E0209, options that do not fit together, unless given."""
        return SpecError(message, self.span(key), anchored(hint, self.path), code)

    def lower_child(self, family: str, key: str, options: Any) -> Node:
        """Lower a component nested in this one's options (a corrector inside a sampler)."""
        return lower_one(options, family, self, key)


def lower_one(options: Any, family: str, ctx: Context, key: str) -> Node:
    comp = component_of(family, options)
    instance = comp.options(**{registry.FAMILIES[family].tag: options}) if isinstance(options, str) else options
    return instance.lower(Context(ctx.source, ctx.path + (key,), ctx.lowered, ctx.chosen, ctx.checking, ctx.train))


def component_of(family: str, options: Any) -> Component:
    kind = options if isinstance(options, str) else getattr(options, registry.FAMILIES[family].tag)
    return registry.get(family, kind)
