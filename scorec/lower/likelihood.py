"""Lowering of the likelihood metrics: which program computes `nll` or `vlb`, or a located error
saying why this model has none.

* nll: the probability-flow ODE of a continuous process with a Gaussian kernel (likelihood.py,
  fragment templates/likelihood/probability_flow.py.j2); an energy model with a learned
  normaliser (objective trait `normalized`) reports its own nll without a program.
* vlb: the variational bound of a discrete chain (fragment variational_bound.py.j2).
"""

from __future__ import annotations

from typing import Any

from ..components import registry
from ..components.registry import Component
from ..core.diagnostics import SpecError, SpecErrors
from ..core.hints import hint
from ..core.ir import BoundLikelihoodIR, FlowLikelihoodIR, LikelihoodIR

FLOW_NEEDS = ("continuous_time", "gaussian_kernel")  # of the process: an ODE with a Gaussian prior
BOUND_NEEDS = ("discrete_time",)
MISFIT = "E0301"  # the metric needs of the process what it lacks (core/codes.py)


def lower_likelihood(ev: Any, chosen: dict[str, Component], data_shape: tuple, source) -> LikelihoodIR | None:
    """The likelihood program eval.metrics asks for (None: none), or SpecErrors located at the metric."""
    process = set(chosen["process"].traits)
    out, errors = None, []
    for i, name in enumerate(ev.metrics):
        span = source.span_of(("eval", "metrics", i))
        if name == "nll" and set(FLOW_NEEDS) <= process:
            dimension = 1
            for size in data_shape:
                dimension *= size
            out = FlowLikelihoodIR(method="probability_flow", metric="nll", n=ev.nll.n, batch_size=ev.nll.batch_size,
                                   estimator=ev.nll.estimator_for(dimension), probes=ev.nll.probes,
                                   noise=ev.nll.noise, rtol=ev.nll.rtol, atol=ev.nll.atol)
        elif name == "nll" and "normalized" not in chosen["objective"].traits:
            errors.append(_no_nll(chosen, process, span))
        elif name == "vlb" and set(BOUND_NEEDS) <= process:
            out = BoundLikelihoodIR(method="variational_bound", metric="vlb", n=ev.vlb.n, batch_size=ev.vlb.batch_size,
                                    variance=ev.vlb.variance)
        elif name == "vlb":
            fix = ("use metric nll: this process's exact likelihood, through its probability-flow ODE"
                   if set(FLOW_NEEDS) <= process else hint("use ", registry.choice("process", _kinds(BOUND_NEEDS))))
            errors.append(SpecError(f"metric 'vlb' is the variational bound of a discrete chain; process "
                                    f"'{chosen['process'].kind}' is not one", span, fix, MISFIT))
    if errors:
        raise SpecErrors(errors)
    return out


def _kinds(needs: tuple[str, ...]) -> list[str]:
    return registry.fitting("process", {"process": needs})


def _no_nll(chosen: dict[str, Component], process: set[str], span) -> SpecError:
    kind = chosen["process"].kind
    if set(BOUND_NEEDS) <= process:
        return SpecError(f"metric 'nll' integrates the probability-flow ODE, and process '{kind}' is a discrete "
                         "chain without one", span, "use metric vlb, the chain's variational bound in bits/dim", MISFIT)
    normalizers = sorted(c.kind for c in registry.components("objective").values() if "normalized" in c.traits)
    fix = hint("use ", registry.choice("process", _kinds(FLOW_NEEDS)), "; or ", registry.choice("objective", normalizers),
               " for an energy model")
    return SpecError(f"metric 'nll' needs a density: the probability-flow ODE of a process with a Gaussian kernel, "
                     f"or an energy model with a learned normaliser; process '{kind}' has no kernel and objective "
                     f"'{chosen['objective'].kind}' learns no normaliser", span, fix, MISFIT)
