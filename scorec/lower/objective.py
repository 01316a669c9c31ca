"""Objective lowering: the loss and its time weighting lambda(t)."""

from __future__ import annotations

import math

from .. import expr as E
from ..diagnostics import SpecError
from ..frontend.expr_parser import parse_expr
from ..ir import ObjectiveIR, ProcessIR
from ..spec import DDPMObjective, DSMObjective
from .process import inline
from .source import SourceMap

t = E.var("t")

# Named weightings lambda(t) of denoising score matching.
NAMED_WEIGHTINGS = {
    "sigma2": E.pow_(E.call("sigma", t), E.num(2.0)),  # Song & Ermon: lambda = sigma^2
    "likelihood": E.pow_(E.call("g", t), E.num(2.0)),  # Song et al. 2021: lambda = g^2
    "uniform": E.num(1.0),
}


def lower_objective(objective, process: ProcessIR, source: SourceMap) -> ObjectiveIR:
    if isinstance(objective, DDPMObjective):
        return ObjectiveIR(
            kind="ddpm",
            equation="E_i E_z |eps(x_i, i) - z|^2,  x_i = sqrt(alpha_bar_i) x_0 + sqrt(1 - alpha_bar_i) z",
        )
    assert isinstance(objective, DSMObjective)
    path = ("objective", "weighting")
    if objective.weighting in NAMED_WEIGHTINGS:
        weight = NAMED_WEIGHTINGS[objective.weighting]
    else:
        defined = {d.name for d in process.definitions} & set(E.PROCESS_FUNCS)
        weight = parse_expr(objective.weighting, source.text_span(path), variables=("t",),
                            functions=set(E.ELEMENTARY) | set(E.PROCESS_FUNCS))
        _check_process_funcs(weight, defined, process.kind, source.span_of(path))
        _check_positive(weight, process, source.span_of(path))
    return ObjectiveIR(
        kind="dsm",
        weighting=objective.weighting,
        weight=weight,
        equation=f"E_t lambda(t) E_z |score(x_t, t) + z / sigma(t)|^2,  lambda(t) = {E.to_text(weight)}",
    )


def _check_process_funcs(weight: E.Expr, defined: set[str], kind: str, span) -> None:
    for call in E.call_nodes(weight):
        if call.func in E.PROCESS_FUNCS and call.func not in defined:
            raise SpecError(
                f"{call.func}(t) is not defined for process '{kind}'",
                call.span or span,
                f"process '{kind}' defines: {', '.join(sorted(defined))}",
            )


def _check_positive(weight: E.Expr, process: ProcessIR, span) -> None:
    """lambda(t) must be finite and non-negative where training samples t."""
    body = inline(weight, process.definitions)
    lo = process.t_eps or 0.0
    for k in range(9):
        tk = lo + (1.0 - lo) * k / 8
        try:
            value = E.evaluate(body, {"t": tk})
            problem = "negative" if value < 0 else None if math.isfinite(value) else "not finite"
        except ZeroDivisionError:
            value, problem = math.nan, "a division by zero"
        except (ValueError, OverflowError):
            value, problem = math.nan, "undefined (outside a function's domain, or overflowing)"
        if problem:
            shown = f" (value {value:.4g})" if math.isfinite(value) else ""
            raise SpecError(
                f"weighting is {problem} at t = {tk:.4g}{shown}",
                span,
                "lambda(t) must be a finite, non-negative weight on [t_eps, 1]",
            )
