"""Lowering of the eval section: the metrics a run computes, checked against what each declares
it needs (scorec/metrics/registry.py), as the components' compatibility is checked against
theirs. A listed metric the spec cannot feed is a located error whose hint names what would fit,
computed from the two registries; automatic metrics join where they apply. The likelihood metrics
(nll, vlb) are computed by a program of their own, which lower/likelihood.py chooses and checks.
"""

from __future__ import annotations

from typing import Any

from ..components import registry
from ..components.registry import Component, choice
from ..core.diagnostics import Span, SpecError, SpecErrors
from ..core.hints import SetKey, hint
from ..core.ir import EvalIR
from ..metrics import registry as metric_registry
from ..metrics.registry import Setting, unmet
from .likelihood import lower_likelihood


def setting_of(chosen: dict[str, Component], features: str) -> Setting:
    """What the chosen components offer a metric."""
    return Setting(samples=metric_registry.samples_of(chosen["data"].traits),
                   traits={family: comp.traits for family, comp in chosen.items()},
                   features=features, trained="exact" not in chosen["network"].traits)

MISFIT = "E0301"  # the metric needs what the chosen components lack (core/codes.py)


def lower_eval(ev: Any, chosen: dict[str, Component], data_shape: tuple, n_samples: int, source: Any) -> EvalIR:
    setting = setting_of(chosen, ev.features)
    errors, likelihood = [], None
    try:
        likelihood = lower_likelihood(ev, chosen, data_shape, source)
    except SpecErrors as exc:
        errors += exc.errors
    for i, name in enumerate(ev.metrics):
        missing = unmet(metric_registry.get(name), setting)
        if missing is not None:
            errors.append(metric_error(name, missing, setting, chosen, data_shape,
                                       source.span_of(("eval", "metrics", i))))
    if errors:
        raise SpecErrors(errors)
    return EvalIR(metrics=metric_registry.to_compute(ev.metrics, setting), n_reference=ev.n_reference or n_samples,
                  features=ev.features, likelihood=likelihood)


def metric_error(name: str, missing: tuple, setting: Setting, chosen: dict[str, Component], data_shape: tuple,
                 span: Span) -> SpecError:
    """Metric `name` lacks `missing` (registry.unmet's answer): say what, and what would fit."""
    fitting = [n for n in metric_registry.applicable(setting)  # sample metrics a spec would list instead
               if not metric_registry.get(n).automatic and metric_registry.get(n).of_samples]
    instead = f"metrics that fit here: {', '.join(fitting)}" if fitting else None
    what = missing[0]
    if what == "on":
        message = (f"metric '{name}' compares {missing[1]}, but this data's samples are {setting.samples} "
                   f"of shape {tuple(data_shape)}")
        return SpecError(message, span, instead, code=MISFIT)
    if what == "needs":
        family, trait = missing[1], missing[2]
        phrase = registry.FAMILIES[family].traits[trait].phrase
        message = f"metric '{name}' needs {phrase} (got {family} '{chosen[family].kind}')"
        providers = registry.fitting(family, {family: (trait,)})
        use = hint("use ", choice(family, providers)) if providers else None
        return SpecError(message, span, hint(use, "; or " if use and instead else None, instead), code=MISFIT)
    if what == "features":
        message = f"metric '{name}' needs features: {' or '.join(missing[1])} (got features: {setting.features})"
        return SpecError(message, span, hint("set ", SetKey(("eval", "features"), (missing[1][0],))), code=MISFIT)
    message = f"metric '{name}' measures trained weights, but network '{chosen['network'].kind}' is exact"
    return SpecError(message, span, instead, code=MISFIT)
