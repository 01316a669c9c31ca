"""Compatibility checks: which objective and sampler fit which process and network."""

from __future__ import annotations

from ..diagnostics import SpecError, SpecErrors
from ..spec import DISCRETE_SAMPLERS, GMMData, Spec
from .source import SourceMap

# objective kind -> the process family it needs
OBJECTIVE_NEEDS = {"dsm": "continuous", "ddpm": "discrete"}


def check_compatibility(spec: Spec, source: SourceMap) -> None:
    errors: list[SpecError] = []
    kind = spec.process.kind
    family = "discrete" if kind == "discrete" else "continuous"

    if spec.model.network.kind == "analytic" and not isinstance(spec.data, GMMData):
        errors.append(SpecError(
            f"network 'analytic' needs data source 'gmm' (got '{spec.data.source}')",
            source.span_of(("model", "network", "kind")),
            "the exact score is known only for a Gaussian mixture; use network: {kind: mlp} to train one",
        ))

    sampler = spec.sample.sampler
    if sampler in DISCRETE_SAMPLERS and family != "discrete":
        errors.append(SpecError(
            f"sampler '{sampler}' needs a discrete process (got '{kind}')",
            source.span_of(("sample", "sampler")),
            "use process kind: discrete, or a continuous sampler: em, pc, ode",
        ))
    if sampler not in DISCRETE_SAMPLERS and family == "discrete":
        errors.append(SpecError(
            f"sampler '{sampler}' needs a continuous process (vp, subvp, ve), got 'discrete'",
            source.span_of(("sample", "sampler")),
            "for a discrete process use sampler: ancestral or ddim",
        ))

    need = OBJECTIVE_NEEDS[spec.objective.kind]
    if need != family:
        alternatives = "dsm" if family == "continuous" else "ddpm"
        errors.append(SpecError(
            f"objective '{spec.objective.kind}' needs a {need} process (got '{kind}')",
            source.span_of(("objective", "kind")),
            f"for process '{kind}' use objective kind: {alternatives}",
        ))

    if spec.sample.batch_size > spec.sample.n:
        errors.append(SpecError(
            f"sample.batch_size ({spec.sample.batch_size}) is larger than sample.n ({spec.sample.n})",
            source.span_of(("sample", "batch_size")),
            f"set sample.batch_size to at most {spec.sample.n}, or raise sample.n",
        ))
    if errors:
        raise SpecErrors(errors)
