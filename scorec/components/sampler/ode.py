"""The probability-flow ODE (Song et al. 2021), integrated with a fixed-step Runge-Kutta method, or
adaptively by torchdiffeq's dopri5 (Dormand-Prince 5(4)): only that method makes the emitted sample.py
import torchdiffeq (pip install 'scorec[ode]'); scorec itself never does."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from ...core.ir import SamplerNode
from ..registry import component
from ..options import PositiveFloat
from ._base import SamplerOptions

STAGES = {"euler": 1, "heun": 2, "rk4": 4}  # network evaluations per step


@dataclass(frozen=True, kw_only=True)
class ODENode(SamplerNode):
    method: str  # euler | heun | rk4 | dopri5


@dataclass(frozen=True, kw_only=True)
class AdaptiveODENode(ODENode):
    """dopri5: the steps adapt to the tolerances, so the NFE is known only at run time (nfe 0 here)."""

    rtol: float
    atol: float
    needs_package: str  # what the emitted sample.py imports beyond torch and numpy


@component("sampler", needs={"process": ("continuous_time",)})
class ODESampler(SamplerOptions):
    """dx/dt = f(x, t) - 1/2 g(t)^2 score(x, t), from t = 1 to t_eps (deterministic)."""

    sampler: Literal["ode"]
    method: Literal["euler", "heun", "rk4", "dopri5"] = Field(
        "heun", description="euler heun rk4: fixed steps; dopri5: adaptive (torchdiffeq; steps unused)")
    rtol: PositiveFloat = Field(1e-5, description="dopri5: relative tolerance")
    atol: PositiveFloat = Field(1e-5, description="dopri5: absolute tolerance")

    def lower(self, ctx) -> ODENode:
        if self.method == "dopri5":
            return AdaptiveODENode(**self.common(ctx, nfe=0, final_denoise=self.denoise), method=self.method,
                                   rtol=self.rtol, atol=self.atol, needs_package="torchdiffeq")
        nfe = self.steps * STAGES[self.method] + self.denoise
        return ODENode(**self.common(ctx, nfe=nfe, final_denoise=self.denoise), method=self.method)
