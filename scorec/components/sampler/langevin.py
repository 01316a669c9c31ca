"""Unadjusted Langevin dynamics at the data end of a process, or on the data density itself (Roberts & Tweedie 1996)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from ..options import PositiveFloat
from ..registry import component
from ._chain_start import ChainStartNode, ChainStartOptions


@dataclass(frozen=True, kw_only=True)
class LangevinNode(ChainStartNode):
    step_size: float  # eps in x <- x + eps s(x) + sqrt(2 eps) z


@component("sampler", needs={"process": ("density_end",)})
class LangevinSampler(ChainStartOptions):
    """x <- x + eps s(x, t_eps) + sqrt(2 eps) z, `steps` times; no Metropolis correction."""

    sampler: Literal["langevin"]
    step_size: PositiveFloat = Field(1e-3, description="eps; the chain's bias grows with it")

    def lower(self, ctx) -> LangevinNode:
        common = self.common(ctx, nfe=self.steps + self.denoise, final_denoise=self.denoise)
        common["grid"] = f"{ctx.process.mcmc_text()}, {self.steps} Langevin steps"
        return LangevinNode(**common, **self.chain_start(), step_size=self.step_size)
