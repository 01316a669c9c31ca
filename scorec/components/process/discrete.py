"""A discrete Markov chain of Gaussian steps: DDPM's forward process (Ho et al. 2020)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Annotated, Literal, Union

from pydantic import Field, model_validator

from ...core import expr as E
from ...core.diagnostics import SpecError, did_you_mean
from ...core.hints import AddKey, hint
from ...core.ir import Constant, ProcessNode
from ..options import Probability, Section, ordered
from .. import registry
from ..registry import component

i = E.var("i")
NAMED = ("linear", "cosine", "quadratic", "sigmoid")


class AlphaBarSchedule(Section):
    """A schedule stated through alpha_bar_i (normalised so that alpha_bar_0 = 1)."""

    alpha_bar: str = Field(..., description="alpha_bar_i as an expression in i and N, "
                                            "e.g. cos((i / N + 0.008) / 1.008 * pi / 2)**2")


@dataclass(frozen=True, kw_only=True)
class MarkovChainNode(ProcessNode):
    schedule: str  # the schedule's name, for people
    table: str  # what `expr` gives: "beta" (beta_i) or "alpha_bar" (alpha_bar_i up to a factor; alpha_bar_0 = 1)
    expr: E.Expr  # in i and the constants
    zero_terminal_snr: bool = False  # alpha_bar rescaled so that alpha_bar_N = 0 (Lin et al. 2024)

    def grid_text(self, steps: int) -> str:
        """How time_grid(steps) respaces the chain, in words."""
        return f"i = 1 + floor(k {self.constant('N_STEPS')} / {steps}) for k = {steps - 1}..0, then i = 0"


@component("process", traits=("discrete_time", "gaussian_kernel"))
class DiscreteProcess(Section):
    """x_i = sqrt(1 - beta_i) x_{i-1} + sqrt(beta_i) z, i = 1..N."""

    kind: Literal["discrete"]
    schedule: Union[Literal[NAMED], str, AlphaBarSchedule] = Field(
        "linear", description="linear | cosine | quadratic | sigmoid | beta_i as an expression in i and N "
                              "| {alpha_bar: expression in i and N}")
    timesteps: Annotated[int, Field(ge=2, le=100000)] = Field(1000, description="N, the number of steps")
    beta_start: Probability = Field(1e-4, description="beta_1 (linear schedule)")
    beta_end: Probability = Field(0.02, description="beta_N (linear schedule)")
    s: Annotated[float, Field(ge=0, lt=1)] = Field(0.008, description="offset of the cosine schedule")
    zero_terminal_snr: bool = Field(
        False, description="rescale sqrt(alpha_bar_i) so that alpha_bar_N = 0 and x_N is pure noise, as "
                           "sampling assumes (Lin et al. 2024); needs a parameterization finite there (v, x0)")

    @model_validator(mode="after")
    def _ordered(self):
        if self.schedule in ("linear", "quadratic", "sigmoid"):
            ordered(self, "beta_start", "beta_end")
        return self

    def lower(self, ctx) -> MarkovChainNode:
        node = self._chain(ctx)
        if not self.zero_terminal_snr:
            return node
        if not ctx.has("parameterization", "terminal_safe"):
            fitting = sorted(set(registry.fitting("parameterization", {"parameterization": ("terminal_safe",)}))
                             & set(registry.satisfied_by("parameterization", ctx.chosen)))
            raise ctx.error("zero_terminal_snr", "zero_terminal_snr makes alpha_bar_N = 0, where parameterization "
                            f"'{ctx.chosen['parameterization'].kind}' gives no x_0: x_0 = (x - sigma eps) / alpha "
                            "divides by zero", hint("use ", registry.choice("parameterization", fitting),
                                                    " (Lin et al. train v)"), "E0301")
        return dataclasses.replace(node, zero_terminal_snr=True,
                                   equation=node.equation + ",  rescaled to a zero terminal SNR (alpha_bar_N = 0)")

    def _chain(self, ctx) -> MarkovChainNode:
        steps = Constant("N_STEPS", self.timesteps, "the chain runs i = 1..N_STEPS; i = 0 is the data")
        n = E.var("N_STEPS")
        equation = "x_i = sqrt(1 - beta_i) x_{i-1} + sqrt(beta_i) z"
        b0, b1 = E.var("BETA_START"), E.var("BETA_END")
        ends = (Constant("BETA_START", self.beta_start, "beta_1"), Constant("BETA_END", self.beta_end, "beta_N"))
        ramp = E.div(E.sub(i, E.num(1.0)), E.sub(n, E.num(1.0)))  # 0 at i = 1, 1 at i = N
        if self.schedule == "linear":
            return MarkovChainNode(
                kind="discrete",
                equation=f"{equation},  beta_i linear from BETA_START to BETA_END",
                constants=(steps, *ends),
                schedule="linear", table="beta",
                expr=E.add(b0, E.div(E.mul(E.sub(b1, b0), E.sub(i, E.num(1.0))), E.sub(n, E.num(1.0)))),
            )
        if self.schedule == "quadratic":  # Ho et al. 2020's "quad": linear in sqrt(beta)
            r0, r1 = E.call("sqrt", b0), E.call("sqrt", b1)
            return MarkovChainNode(
                kind="discrete", equation=f"{equation},  sqrt(beta_i) linear from sqrt(BETA_START) to sqrt(BETA_END)",
                constants=(steps, *ends), schedule="quadratic", table="beta",
                expr=E.pow_(E.add(r0, E.mul(E.sub(r1, r0), ramp)), E.num(2.0)),
            )
        if self.schedule == "sigmoid":  # beta_i = BETA_START + (BETA_END - BETA_START) sigmoid(-6 + 12 ramp)
            return MarkovChainNode(
                kind="discrete", equation=f"{equation},  beta_i a sigmoid from BETA_START to BETA_END",
                constants=(steps, *ends), schedule="sigmoid", table="beta",
                expr=E.add(b0, E.mul(E.sub(b1, b0),
                                     E.call("sigmoid", E.add(E.num(-6.0), E.mul(E.num(12.0), ramp))))),
            )
        if isinstance(self.schedule, AlphaBarSchedule):
            span = ctx.text_span("schedule", "alpha_bar") or ctx.span("schedule", "alpha_bar")
            f = _schedule_expr(self.schedule.alpha_bar, span)
            _check_alpha_bar(f, self.timesteps, span)
            return MarkovChainNode(
                kind="discrete", equation=f"{equation},  alpha_bar_i = f(i) / f(0), f(i) = {E.to_text(f)}",
                constants=(steps, Constant("MAX_BETA", 0.999, "betas are clipped here")),
                schedule="alpha_bar", table="alpha_bar", expr=f,
            )
        if self.schedule != "cosine":
            span = ctx.text_span("schedule") or ctx.span("schedule")
            if self.schedule.strip().isidentifier() and self.schedule.strip() not in ("i", "N"):
                raise ctx.error("schedule", f"unknown schedule '{self.schedule}'", did_you_mean(self.schedule, NAMED)
                                or hint(f"one of: {', '.join(NAMED)}, an expression in i and N, or ",
                                        AddKey(("schedule",), section=True), " as a section with ",
                                        AddKey(("schedule", "alpha_bar")),
                                        " (an expression in i and N)"), code="E0206")
            beta = _schedule_expr(self.schedule, span)
            _check_betas(beta, self.timesteps, span)
            return MarkovChainNode(
                kind="discrete", equation=f"{equation},  beta_i = {E.to_text(beta)}",
                constants=(steps,), schedule="expression", table="beta", expr=beta,
            )
        # cosine (Nichol & Dhariwal 2021): alpha_bar_i = f(i) / f(0), f(i) = cos^2((i/N + s)/(1 + s) pi/2)
        s = E.var("COSINE_S")
        angle = E.mul(E.div(E.add(E.div(i, n), s), E.add(E.num(1.0), s)), E.div(E.var("pi"), E.num(2.0)))

        return MarkovChainNode(
            kind="discrete",
            equation=f"{equation},  alpha_bar_i = f(i) / f(0) (cosine)",
            constants=(steps, Constant("COSINE_S", self.s, "offset s of the cosine schedule"),
                       Constant("MAX_BETA", 0.999, "betas are clipped here: the last steps of a cosine chain")),
            schedule="cosine", table="alpha_bar",
            expr=E.pow_(E.call("cos", angle), E.num(2.0)),
        )


def _schedule_expr(text: str, span) -> E.Expr:
    """An expression in i and N (N spelled N_STEPS in emitted code)."""
    from ...core.expr_parser import parse_expr

    e = parse_expr(text, span, variables=("i", "N"), functions=set(E.ELEMENTARY))
    return E.replace_var(e, "N", E.var("N_STEPS"))


def _values(e: E.Expr, first: int, steps: int):
    import numpy as np

    from ._symbolic import evaluate_array

    index = np.arange(first, steps + 1, dtype=np.float64)
    with np.errstate(all="ignore"):
        return index, np.broadcast_to(np.asarray(evaluate_array(e, {"i": index, "N_STEPS": float(steps)}),
                                                 dtype=np.float64), index.shape)


def _check_betas(beta: E.Expr, steps: int, span) -> None:
    """0 < beta_i < 1 for every i = 1..N, checked at compile time."""
    import numpy as np

    index, values = _values(beta, 1, steps)
    bad = ~((values > 0) & (values < 1))
    if bad.any():
        k = int(np.argmax(bad))
        raise SpecError(f"the schedule leaves (0, 1): beta_{int(index[k])} = {values[k]:.6g}", span,
                        "every beta_i, i = 1..N, must lie strictly between 0 and 1", code="E0404")


def _check_alpha_bar(f: E.Expr, steps: int, span) -> None:
    """f(0) > 0, and alpha_bar_i = f(i) / f(0) decreasing and non-negative (0 < beta_i <= 1)."""
    import numpy as np

    index, values = _values(f, 0, steps)
    if not (np.isfinite(values[0]) and values[0] > 0):
        raise SpecError(f"alpha_bar at i = 0 must be positive (it normalises the schedule), got {values[0]:.6g}",
                        span, "e.g. cos((i / N + 0.008) / 1.008 * pi / 2)**2", code="E0404")
    ab = values / values[0]
    with np.errstate(all="ignore"):
        betas = 1 - ab[1:] / ab[:-1]
    bad = ~((betas > 0) & (ab[1:] >= 0) & np.isfinite(betas))
    if bad.any():
        k = int(np.argmax(bad))
        raise SpecError(f"alpha_bar must decrease from 1 and stay >= 0: beta_{k + 1} = {betas[k]:.6g}", span,
                        "alpha_bar_i = f(i) / f(0) must fall strictly with i, i = 0..N", code="E0404")
