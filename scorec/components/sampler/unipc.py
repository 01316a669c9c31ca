"""UniPC (Zhao et al. 2023), variant B(h) = expm1(-h) (bh2): a multistep predictor and a corrector that
reuses the next step's network evaluation, so the corrector costs no extra evaluation."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from ..options import PositiveInt, int_choice
from ..registry import component
from ._grid import GridSamplerNode, GridSamplerOptions


@dataclass(frozen=True, kw_only=True)
class UniPCNode(GridSamplerNode):
    order: int  # of the predictor (UniP-p); the corrector raises it by one
    lower_order_final: bool


@component("sampler", needs={"process": ("gaussian_kernel",)})
class UniPCSampler(GridSamplerOptions):
    """UniP-p predicts x_{k+1} from D at the last p levels; UniC corrects x_k with D(x_k) before stepping on."""

    sampler: Literal["unipc"]
    steps: PositiveInt = Field(10, description="network evaluations (the last step goes to the data)")
    order: int_choice(1, 2, 3) = Field(2, description="predictor order (the corrector adds one)")
    lower_order_final: bool = Field(True, description="the last steps use order at most steps left "
                                                      "(as diffusers' lower_order_final)")

    def lower(self, ctx) -> UniPCNode:
        self.check_order(ctx, self.order)
        return UniPCNode(**self.grid_fields(ctx, nfe=self.steps), order=self.order,
                         lower_order_final=self.lower_order_final)
