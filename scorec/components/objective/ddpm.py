"""DDPM's simple loss (Ho et al. 2020): regress the network's prediction over uniform chain steps.

Any parameterization trains with it: its network regresses its own target (the noise for
eps, score and energy, x_0, v, EDM's F), unweighted but for the parameterization's own
standard weight (x0's truncated SNR).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ...core import expr as E
from ...core.ir import ObjectiveNode
from ..options import Section
from ..registry import component


@dataclass(frozen=True, kw_only=True)
class DDPMNode(ObjectiveNode):
    weight: E.Expr | None  # the parameterization's standard weight, in the chain step i; None: unweighted


@component("objective", needs={"process": ("discrete_time",)}, default_for=("discrete_time",),
           traits=("per_example",))
class DDPMObjective(Section):
    """E_i E |prediction(x_i, i) - target|^2 over uniform integer i (for eps: |eps(x_i, i) - z|^2)."""

    kind: Literal["ddpm"]

    def lower(self, ctx) -> DDPMNode:
        param = ctx.lowered["parameterization"]
        weight = None if param.weight is None else E.replace_var(param.weight, "t", E.var("i"))
        return DDPMNode(
            kind="ddpm", weight=weight,
            equation=f"E_i E_z {param.loss.replace('x_t, t', 'x_i, i')},  "
                     "x_i = sqrt(alpha_bar_i) x_0 + sqrt(1 - alpha_bar_i) z",
        )
