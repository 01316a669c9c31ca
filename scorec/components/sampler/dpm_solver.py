"""DPM-Solver++ multistep (Lu et al. 2022): an exponential integrator in the log-SNR, on the denoiser."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from ...core.hints import SetKey, hint
from ..options import PositiveInt, int_choice
from ..registry import component
from ._grid import GridSamplerNode, GridSamplerOptions

# The variants' words are also other components' kinds (the ode sampler, the sde process); written as one
# string, they are not read as naming those (tests/test_contracts.py).
ODE, SDE = "ode sde".split()


@dataclass(frozen=True, kw_only=True)
class DPMSolverNode(GridSamplerNode):
    order: int  # 1, 2 or 3: how many past denoiser values each step uses
    stochastic: bool  # SDE-DPM-Solver++: fresh noise each step
    lower_order_final: bool


@component("sampler", needs={"process": ("gaussian_kernel",)})
class DPMSolverSampler(GridSamplerOptions):
    """x_t = (sigma_t/sigma_s) x_s - alpha_t expm1(-h) D + higher-order terms, h = lambda_t - lambda_s."""

    sampler: Literal["dpm_solver"]
    steps: PositiveInt = Field(10, description="network evaluations (the last step goes to the data)")
    order: int_choice(1, 2, 3) = Field(2, description="multistep order: 2 (2M) or 3 (3M); 1 is DDIM")
    variant: Literal[(ODE, SDE)] = Field(ODE, description="ode: DPM-Solver++; sde: SDE-DPM-Solver++ "
                                                              "(fresh noise each step)")
    lower_order_final: bool = Field(True, description="below 15 steps, the last two steps use orders 1 and 2 "
                                                      "(stabler, as diffusers' lower_order_final)")

    def lower(self, ctx) -> DPMSolverNode:
        self.check_order(ctx, self.order)
        if self.variant == SDE and self.grid is not None and self.grid.kind == "optimized":
            raise ctx.error("grid", "grid 'optimized' is fitted to a deterministic solver, and variant 'sde' "
                                    "draws fresh noise each step",
                            hint("use ", SetKey(("variant",), (ODE,)), " with the optimized grid"))
        return DPMSolverNode(**self.grid_fields(ctx, nfe=self.steps), order=self.order, stochastic=self.variant == SDE,
                             lower_order_final=self.lower_order_final)
