"""Random-walk Metropolis-Hastings on exp(-E) at the grid's last time: needs the energy, not its gradient."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from ..options import PositiveFloat
from ..registry import component
from ._chain_start import ChainStartNode, ChainStartOptions


@dataclass(frozen=True, kw_only=True)
class MHNode(ChainStartNode):
    proposal_std: float  # y = x + proposal_std z


@component("sampler", needs={"process": ("density_end",), "parameterization": ("scalar_energy",)})
class MHSampler(ChainStartOptions):
    """Gaussian random-walk proposals accepted with probability min(1, exp(E(x) - E(y)))."""

    sampler: Literal["mh"]
    proposal_std: PositiveFloat = Field(0.1, description="std of the random-walk proposal")

    def lower(self, ctx) -> MHNode:
        # one energy evaluation at the start, one per proposal, and the final denoiser
        common = self.common(ctx, nfe=1 + self.steps + self.denoise, final_denoise=self.denoise)
        common["grid"] = f"{ctx.process.mcmc_text()}, {self.steps} Metropolis-Hastings steps"
        return MHNode(**common, **self.chain_start(), proposal_std=self.proposal_std)
