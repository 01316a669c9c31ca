"""Metropolis-adjusted Langevin (Roberts & Tweedie 1996) on exp(-E) at the grid's last time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from ..options import PositiveFloat
from ..registry import component
from ._chain_start import ChainStartNode, ChainStartOptions


@dataclass(frozen=True, kw_only=True)
class MALANode(ChainStartNode):
    step_size: float  # eps of the Langevin proposal y = x + eps s(x) + sqrt(2 eps) z


@component("sampler", needs={"process": ("density_end",), "parameterization": ("scalar_energy",)})
class MALASampler(ChainStartOptions):
    """Langevin proposals accepted with the Metropolis-Hastings ratio: unbiased at any step size."""

    sampler: Literal["mala"]
    step_size: PositiveFloat = Field(1e-2, description="eps of the proposal; larger moves, fewer accepted")

    def lower(self, ctx) -> MALANode:
        # one energy-and-score evaluation at the start, one per proposal, and the final denoiser
        common = self.common(ctx, nfe=1 + self.steps + self.denoise, final_denoise=self.denoise)
        common["grid"] = f"{ctx.process.mcmc_text()}, {self.steps} MALA steps"
        return MALANode(**common, **self.chain_start(), step_size=self.step_size)
