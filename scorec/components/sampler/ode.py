"""The probability-flow ODE (Song et al. 2021), integrated with a fixed-step Runge-Kutta method."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ...core.ir import SamplerNode
from ..registry import component
from ._base import SamplerOptions

STAGES = {"euler": 1, "heun": 2, "rk4": 4}  # network evaluations per step


@dataclass(frozen=True, kw_only=True)
class ODENode(SamplerNode):
    method: str  # euler | heun | rk4


@component("sampler", needs={"process": ("continuous_time",)})
class ODESampler(SamplerOptions):
    """dx/dt = f(x, t) - 1/2 g(t)^2 score(x, t), from t = 1 to t_eps (deterministic)."""

    sampler: Literal["ode"]
    method: Literal["euler", "heun", "rk4"] = "heun"

    def lower(self, ctx) -> ODENode:
        nfe = self.steps * STAGES[self.method] + self.denoise
        return ODENode(**self.common(ctx, nfe=nfe, final_denoise=self.denoise), method=self.method)
