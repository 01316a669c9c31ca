"""iPNDM (Zhang & Chen 2023): Adams-Bashforth steps on the probability-flow ODE, warmed up at lower orders."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from ..options import PositiveInt, int_choice
from ..registry import component
from ._grid import GridSamplerNode, GridSamplerOptions


@dataclass(frozen=True, kw_only=True)
class IPNDMNode(GridSamplerNode):
    order: int  # 1..4: past slopes each step combines


@component("sampler", needs={"process": ("gaussian_kernel",)})
class IPNDMSampler(GridSamplerOptions):
    """u' = u + (s' - s) sum_j c_j d_{k-j}, d = (u - D(u, s)) / s, Adams-Bashforth weights c of order min(k + 1, order)."""

    sampler: Literal["ipndm"]
    steps: PositiveInt = Field(10, description="network evaluations (the last step goes to the data)")
    order: int_choice(1, 2, 3, 4) = Field(4, description="Adams-Bashforth order (1 is Euler)")

    def default_grid(self, ctx) -> str:
        return "linspace" if ctx.has("process", "discrete_time") else "karras"

    def lower(self, ctx) -> IPNDMNode:
        self.check_order(ctx, self.order)
        return IPNDMNode(**self.grid_fields(ctx, nfe=self.steps), order=self.order)
