"""DDIM (Song, Meng & Ermon 2021): eta = 0 is deterministic, eta = 1 matches ancestral noise."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field

from ...core.ir import SamplerNode
from ..registry import component
from ._base import ChainSamplerOptions


@dataclass(frozen=True, kw_only=True)
class DDIMNode(SamplerNode):
    eta: float  # scale of the fresh noise


@component("sampler", needs={"process": ("discrete_time",)})
class DDIMSampler(ChainSamplerOptions):
    """x_j = sqrt(abar_j) x0 + sqrt(1 - abar_j - s^2) eps + s z over a respaced chain."""

    sampler: Literal["ddim"]
    eta: Annotated[float, Field(ge=0, le=1)] = Field(0.0, description="0: deterministic; 1: ancestral-like noise")

    def lower(self, ctx) -> DDIMNode:
        return self.chain_node(ctx, DDIMNode, eta=self.eta)
