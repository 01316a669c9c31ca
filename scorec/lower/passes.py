"""Lowering: a validated Spec -> the IR.

Passes run in order: compatibility (read from the chosen components' declared needs),
then each component lowers itself to its own IR node, data first and sampler last, each
seeing the nodes lowered before it. A pass that finds a mistake raises a SpecError
located through the source map (the loaded Document).
"""

from __future__ import annotations

from typing import Any, Iterator

from pydantic import BaseModel

from ..components import registry
from ..components.registry import Component, FamilyField
from ..core.diagnostics import SpecError, SpecErrors
from ..core.hints import SetKey, hint
from ..core.ir import EvalIR, Node, ProgramIR, TrainIR
from ..schema.messages import needs_error
from .context import Context, SourceMap, component_of, lower_one
from .likelihood import lower_likelihood

# Where each top-level family sits in the spec, in lowering order.
SECTIONS: dict[str, tuple] = {
    "data": ("data",),
    "process": ("process",),
    "condition": ("model", "condition"),  # optional: absent for an unconditional model
    "network": ("model", "network"),
    "parameterization": ("model", "parameterization"),
    "objective": ("objective",),
    "sampler": ("sample",),
}


def _at(spec: Any, path: tuple) -> Any:
    for key in path:
        spec = getattr(spec, key)
    return spec


def nested_components(options: Any, path: tuple) -> Iterator[tuple[tuple, str, Any]]:
    """(path, family, options) of every component inside a component's options."""
    if not isinstance(options, BaseModel):
        return
    for name, info in type(options).model_fields.items():
        marker = next((m for m in info.metadata if isinstance(m, FamilyField)), None)
        value = getattr(options, name)
        if marker is not None:
            yield path + (name,), marker.family, value
            yield from nested_components(value, path + (name,))


def check_needs(spec: Any, chosen: dict[str, Component], source: SourceMap) -> None:
    """Every chosen component's declared needs against the components chosen beside it."""
    errors = []
    placed = [(SECTIONS[f], f, _at(spec, SECTIONS[f])) for f in chosen]
    placed += [n for p, _, opts in list(placed) for n in nested_components(opts, p)]
    for path, family, options in placed:
        comp = component_of(family, options)
        for other, traits in comp.needs.items():
            missing = [t for t in traits if other in chosen and t not in chosen[other].traits]
            if missing:
                tag = () if registry.FAMILIES[family].scalar else (registry.FAMILIES[family].tag,)
                errors.append(needs_error(comp, other, missing[0], chosen, source.span_of(path + tag)))
    if errors:
        raise SpecErrors(errors)


def lower(spec: Any, source: SourceMap, checking: bool = False) -> ProgramIR:
    """Run every lowering pass; the result is all the emitter needs.

    checking: the IR is only validated, never emitted (scorec check), so a component may skip
    work that finds no errors, such as searching for a closed form it would otherwise emit."""
    present = {f: path for f, path in SECTIONS.items() if _at(spec, path) is not None}
    # each as chosen: with the traits its options switch on (npz data with a label_key is labelled)
    chosen = {f: component_of(f, _at(spec, path)).provided(_at(spec, path)) for f, path in present.items()}
    check_needs(spec, chosen, source)
    lowered: dict[str, Node] = {}
    for family, path in present.items():
        ctx = Context(source, path[:-1], lowered, chosen, checking, spec.train)
        lowered[family] = lower_one(_at(spec, path), family, ctx, path[-1])
    exact = "exact" in chosen["network"].traits
    sampler = lowered["sampler"]
    check_eval(spec.eval, lowered["data"].shape, source)
    likelihood = lower_likelihood(spec.eval, chosen, lowered["data"].shape, source)
    return ProgramIR(
        name=spec.name,
        seed=spec.seed,
        train=None if exact else TrainIR(**spec.train.model_dump()),
        eval=EvalIR(metrics=tuple(spec.eval.metrics), n_reference=spec.eval.n_reference or sampler.n,
                    features=spec.eval.features, likelihood=likelihood),
        **lowered,
    )


def check_eval(ev: Any, data_shape: tuple, source: SourceMap) -> None:
    """Image metrics need image data (C, H, W); the Inception Score needs class logits."""
    from ..schema.spec import IMAGE_METRICS, POINT_METRICS

    errors = []
    images = len(data_shape) == 3
    for i, name in enumerate(ev.metrics):
        if name in IMAGE_METRICS and not images:
            errors.append(SpecError(
                f"metric '{name}' compares image features, but this data's samples have shape {tuple(data_shape)}",
                source.span_of(("eval", "metrics", i)), f"for points use {', '.join(POINT_METRICS)}", code="E0301"))
        elif name == "is" and ev.features == "inception":
            errors.append(SpecError(
                "metric 'is' needs class logits; the FID Inception network scorec uses gives pool features only",
                source.span_of(("eval", "metrics", i)),
                hint("use ", SetKey(("eval", "features"), ("classifier",)), " for the Inception Score"),
                code="E0301"))
    if errors:
        raise SpecErrors(errors)
