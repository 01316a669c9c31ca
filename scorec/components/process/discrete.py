"""A discrete Markov chain of Gaussian steps: DDPM's forward process (Ho et al. 2020)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field, model_validator

from ... import expr as E
from ...ir import Constant, ProcessNode
from ..options import Probability, Section, ordered
from ..registry import component

i = E.var("i")


@dataclass(frozen=True, kw_only=True)
class MarkovChainNode(ProcessNode):
    schedule: str  # the schedule's name, for people
    table: str  # what `expr` gives: "beta" (beta_i) or "alpha_bar" (alpha_bar_i up to a factor, fixed by alpha_bar_0 = 1)
    expr: E.Expr  # in i and the constants

    def grid_text(self, steps: int) -> str:
        """How time_grid(steps) respaces the chain, in words."""
        return f"i = 1 + floor(k {self.constant('N_STEPS')} / {steps}) for k = {steps - 1}..0, then i = 0"


@component("process", traits=("discrete_time",))
class DiscreteProcess(Section):
    """x_i = sqrt(1 - beta_i) x_{i-1} + sqrt(beta_i) z, i = 1..N."""

    kind: Literal["discrete"]
    schedule: Literal["linear", "cosine"] = Field("linear", description="how beta_i is laid out")
    timesteps: Annotated[int, Field(ge=2, le=100000)] = Field(1000, description="N, the number of steps")
    beta_start: Probability = Field(1e-4, description="beta_1 (linear schedule)")
    beta_end: Probability = Field(0.02, description="beta_N (linear schedule)")
    s: Annotated[float, Field(ge=0, lt=1)] = Field(0.008, description="offset of the cosine schedule")

    @model_validator(mode="after")
    def _ordered(self):
        if self.schedule == "linear":
            ordered(self, "beta_start", "beta_end")
        return self

    def lower(self, ctx) -> MarkovChainNode:
        steps = Constant("N_STEPS", self.timesteps, "the chain runs i = 1..N_STEPS; i = 0 is the data")
        n = E.var("N_STEPS")
        equation = "x_i = sqrt(1 - beta_i) x_{i-1} + sqrt(beta_i) z"
        if self.schedule == "linear":
            b0, b1 = E.var("BETA_START"), E.var("BETA_END")
            return MarkovChainNode(
                kind="discrete",
                equation=f"{equation},  beta_i linear from BETA_START to BETA_END",
                constants=(steps, Constant("BETA_START", self.beta_start, "beta_1"),
                           Constant("BETA_END", self.beta_end, "beta_N")),
                schedule="linear", table="beta",
                expr=E.add(b0, E.div(E.mul(E.sub(b1, b0), E.sub(i, E.num(1.0))), E.sub(n, E.num(1.0)))),
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


