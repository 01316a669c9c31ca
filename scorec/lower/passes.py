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
from ..core.ir import Node, ProgramIR, TrainIR
from ..schema.messages import needs_error
from .context import Context, SourceMap, component_of, lower_one
from .evaluation import lower_eval

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
    check_sharding(spec, chosen, source)
    lowered: dict[str, Node] = {}
    for family, path in present.items():
        ctx = Context(source, path[:-1], lowered, chosen, checking, spec.train)
        lowered[family] = lower_one(_at(spec, path), family, ctx, path[-1])
    exact = "exact" in chosen["network"].traits
    sampler = lowered["sampler"]
    return ProgramIR(
        name=spec.name,
        seed=spec.seed,
        train=None if exact else TrainIR(**{**spec.train.model_dump(), "log": tuple(spec.train.log)}),
        eval=lower_eval(spec.eval, chosen, lowered["data"].shape, sampler.n, source),
        **lowered,
    )


def check_sharding(spec: Any, chosen: dict[str, Component], source: SourceMap) -> None:
    """train.distributed: fsdp shards the network block by block: its network must name its blocks."""
    network = chosen["network"]
    if spec.train.distributed == "fsdp" and "shardable" not in network.traits:
        fits = sorted(kind for kind, c in registry.components("network").items() if "shardable" in c.traits)
        raise SpecError(f"train.distributed: fsdp shards the network block by block, and the {network.kind} "
                        "network has no blocks to shard", source.span_of(("train", "distributed")),
                        f"use distributed: ddp, or a network FSDP can shard: {', '.join(fits)}", code="E0301")

