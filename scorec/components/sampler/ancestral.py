"""DDPM ancestral sampling (Ho et al. 2020) over a (respaced) discrete chain."""

from __future__ import annotations

from typing import Literal

from ...core.ir import SamplerNode
from ..registry import component
from ._base import ChainSamplerOptions


@component("sampler", needs={"process": ("discrete_time",)}, default_for=("discrete_time",))
class AncestralSampler(ChainSamplerOptions):
    """x_j ~ q(x_j | x_i, x0(x_i)) for j < i: the Gaussian posterior of the forward chain."""

    sampler: Literal["ancestral"]

    def lower(self, ctx) -> SamplerNode:
        return self.chain_node(ctx)
