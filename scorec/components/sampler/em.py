"""Euler-Maruyama on the reverse-time SDE (Song et al. 2021)."""

from __future__ import annotations

from typing import Literal

from ...core.ir import SamplerNode
from ..registry import component
from ._base import SamplerOptions


@component("sampler", needs={"process": ("continuous_time",)})
class EMSampler(SamplerOptions):
    """dx = [f(x, t) - g(t)^2 score(x, t)] dt + g(t) dw-bar, from t = 1 to t_eps."""

    sampler: Literal["em"]

    def lower(self, ctx) -> SamplerNode:
        return SamplerNode(**self.common(ctx, nfe=self.steps + self.denoise, final_denoise=self.denoise))
