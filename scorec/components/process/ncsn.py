"""NCSN's ladder of noise levels (Song & Ermon 2019): x_i = x_0 + sigma_i z, sigma_1 > ... > sigma_L geometric."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field, model_validator

from ...core.ir import Constant, ProcessNode
from ..options import PositiveFloat, Section, ordered
from ..registry import component


@dataclass(frozen=True, kw_only=True)
class LadderNode(ProcessNode):
    levels: int

    def grid_text(self, steps: int) -> str:
        return f"the {self.levels} noise levels, sigma from SIGMA_MAX down to SIGMA_MIN"

    def mcmc_text(self) -> str:
        return f"the smallest level sigma_L = SIGMA_MIN = {self.constant('SIGMA_MIN'):g}"


@component("process", traits=("noise_levels", "noise_conditional", "density_end"))
class NCSNProcess(Section):
    """x_i = x_0 + sigma_i z, i = 0..L-1 (index 0 the noisiest), sigma geometric from sigma_max to sigma_min."""

    kind: Literal["ncsn"]
    sigma_min: PositiveFloat = Field(0.01, description="sigma_L, the smallest noise level")
    sigma_max: PositiveFloat = Field(10.0, description="sigma_1, the largest (about the data's diameter)")
    levels: Annotated[int, Field(ge=2, le=100000)] = Field(10, description="L, the number of noise levels")

    @model_validator(mode="after")
    def _ordered(self):
        ordered(self, "sigma_min", "sigma_max")
        return self

    def lower(self, ctx) -> LadderNode:
        ratio = (self.sigma_min / self.sigma_max) ** (1 / (self.levels - 1))
        return LadderNode(
            kind="ncsn",
            equation=f"x_i = x_0 + sigma_i z, sigma_i geometric (ratio {ratio:.4g}) from SIGMA_MAX to SIGMA_MIN",
            constants=(Constant("SIGMA_MIN", self.sigma_min, "sigma_L, the smallest noise level"),
                       Constant("SIGMA_MAX", self.sigma_max, "sigma_1, the largest noise level"),
                       Constant("N_LEVELS", self.levels, "L, the number of noise levels")),
            levels=self.levels,
        )
