"""Karras et al. (2022), Algorithm 2: Heun's method on the probability-flow ODE in sigma, with churn."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from ...core.hints import SetKey, hint
from ..options import NonNegativeFloat, PositiveFloat, PositiveInt
from ..registry import component
from ._grid import GridSamplerNode, GridSamplerOptions


@dataclass(frozen=True, kw_only=True)
class EDMNode(GridSamplerNode):
    churn: float
    s_tmin: float
    s_tmax: float | None
    s_noise: float


@component("sampler", needs={"process": ("gaussian_kernel",)})
class EDMSampler(GridSamplerOptions):
    """dx/ds = (x - D(x, s)) / s in x/alpha and s = sigma/alpha, by Heun steps; Euler on the last step to s = 0."""

    sampler: Literal["edm"]
    steps: PositiveInt = Field(18, description="steps; NFE 2 steps - 1 (the last step to the data is Euler)")
    churn: NonNegativeFloat = Field(0.0, description="S_churn: noise added back over the run (0: deterministic)")
    s_tmin: NonNegativeFloat = Field(0.0, description="churn only where sigma/alpha >= s_tmin")
    s_tmax: PositiveFloat | None = Field(None, description="churn only where sigma/alpha <= s_tmax (null: no bound)")
    s_noise: PositiveFloat = Field(1.0, description="S_noise: scale of the churn noise")

    def default_grid(self, ctx) -> str:
        return "karras"

    def lower(self, ctx) -> EDMNode:
        if self.churn > 0 and self.grid is not None and self.grid.kind == "optimized":
            raise ctx.error("grid", "grid 'optimized' is fitted to a deterministic solver, and churn adds noise",
                            hint("use ", SetKey(("churn",), (0,)), " with the optimized grid"))
        nfe = 2 * self.steps - (1 if self.denoise else 0)
        return EDMNode(**self.grid_fields(ctx, nfe=nfe), churn=self.churn, s_tmin=self.s_tmin, s_tmax=self.s_tmax,
                       s_noise=self.s_noise)
