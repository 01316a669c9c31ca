"""Denoising score matching (Vincent 2011; Song et al. 2021) with a time weighting lambda(t)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from ...core import expr as E
from ...core.diagnostics import SpecError
from ...core.hints import SetKey, hint
from ...core.expr_parser import parse_expr
from ...core.ir import ObjectiveNode
from ..options import Section
from ..registry import component

t = E.var("t")

# Named weightings lambda(t).
NAMED_WEIGHTINGS = {
    "sigma2": E.pow_(E.call("sigma", t), E.num(2.0)),  # Song & Ermon: lambda = sigma^2
    "likelihood": E.pow_(E.call("g", t), E.num(2.0)),  # Song et al. 2021: lambda = g^2
    "uniform": E.num(1.0),
}
LADDER_WEIGHTINGS = ("sigma2", "uniform")  # those defined on discrete noise levels too
STANDARD = "standard"  # the parameterization's own loss, whatever the process


@dataclass(frozen=True, kw_only=True)
class DSMNode(ObjectiveNode):
    weighting: str  # as the spec says it: a name or an expression
    weight: E.Expr | None  # lambda(t); None: unweighted (a standard loss)
    standard: bool  # the parameterization's own loss (its prediction against its target), weighted by lambda


@component("objective", needs={"process": ("noise_conditional",)}, default_for=("noise_conditional",),
           traits=("dimension_free", "per_example"))
class DSMObjective(Section):
    """Denoising score matching with any parameterization: by default its family's standard loss
    (eps loss, v loss, EDM's, flow matching's), else E_t lambda(t) E |s(x_t, t) + z / s(t)|^2."""

    kind: Literal["dsm"]
    weighting: str = Field(STANDARD, description="standard (the parameterization's own loss: DDPM's eps loss, "
                                                 "the v loss, EDM's 1 / c_out^2, ...) | sigma2 | likelihood | "
                                                 "uniform | an expression in t (weights of the score's error)")

    def lower(self, ctx) -> DSMNode:
        process = ctx.process
        if self.weighting == STANDARD:
            param = ctx.lowered["parameterization"]
            return DSMNode(kind="dsm", weighting=self.weighting, weight=param.weight, standard=True,
                           equation=f"E_t E_z {param.loss}")
        if not ctx.has("process", "continuous_time") and self.weighting not in LADDER_WEIGHTINGS:
            raise ctx.error("weighting", f"weighting '{self.weighting}' needs a continuous time t",
                            hint("on a ladder of noise levels use ",
                                 SetKey(("weighting",), (STANDARD,) + LADDER_WEIGHTINGS),
                                 " (sigma2 is NCSN's sigma_i^2)"), "E0301")
        if self.weighting in NAMED_WEIGHTINGS:
            weight = NAMED_WEIGHTINGS[self.weighting]
        else:
            defined = {d.name for d in process.definitions} & set(E.PROCESS_FUNCS)
            weight = parse_expr(self.weighting, ctx.text_span("weighting"), variables=("t",),
                                functions=set(E.ELEMENTARY) | set(E.PROCESS_FUNCS))
            _check_process_funcs(weight, defined, process.kind, ctx.span("weighting"))
            _check_positive(weight, process, ctx.span("weighting"))
        return DSMNode(
            kind="dsm",
            weighting=self.weighting,
            weight=weight,
            standard=False,
            equation=f"E_t lambda(t) E_z |score(x_t, t) + z / sigma(t)|^2,  lambda(t) = {E.to_text(weight)}",
        )


def _check_process_funcs(weight: E.Expr, defined: set[str], kind: str, span) -> None:
    for call in E.call_nodes(weight):
        if call.func in E.PROCESS_FUNCS and call.func not in defined:
            raise SpecError(
                f"{call.func}(t) is not defined for process '{kind}'",
                call.span or span,
                f"process '{kind}' defines: {', '.join(sorted(defined))}",
                code="E0402",
            )


def _check_positive(weight: E.Expr, process, span) -> None:
    """lambda(t) must be finite and non-negative where training samples t."""
    lo = process.constant("T_EPS")
    for k in range(9):
        tk = lo + (1.0 - lo) * k / 8
        try:
            value = process.at(weight, tk)
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
                code="E0404",
            )
