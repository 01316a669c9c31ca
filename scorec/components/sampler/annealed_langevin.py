"""Annealed Langevin dynamics down an NCSN noise ladder (Song & Ermon 2019, Algorithm 1)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from ..options import MAX_COUNT, PositiveFloat, PositiveInt
from ..registry import component
from ._chain_start import ChainStartNode, ChainStartOptions


@dataclass(frozen=True, kw_only=True)
class AnnealedLangevinNode(ChainStartNode):
    steps_per_level: int  # T: Langevin steps at each level
    step_size: float  # eps: the step at level i is eps sigma_i^2 / sigma_L^2


@component("sampler", needs={"process": ("noise_levels",)}, default_for=("noise_levels",))
class AnnealedLangevinSampler(ChainStartOptions):
    """For each level sigma_i, noisiest first, `steps_per_level` Langevin steps of size
    eps sigma_i^2 / sigma_L^2; then (denoise) x + sigma_L^2 s(x, sigma_L)."""

    sampler: Literal["annealed_langevin"]
    steps: PositiveInt | None = Field(
        None, description="total Langevin steps; when given it wins over steps_per_level, which becomes "
        "max(1, steps // levels) (so --set sample.steps=N shortens this sampler like any other)")
    steps_per_level: PositiveInt = Field(
        100, description="T, Langevin steps at each noise level (unless steps is given)")
    step_size: PositiveFloat = Field(
        2e-5, description="eps; level i steps eps sigma_i^2 / sigma_L^2 (NCSN: 2e-5 with sigma_L = 0.01)")

    def lower(self, ctx) -> AnnealedLangevinNode:
        levels = ctx.process.constant("N_LEVELS")
        per_level = self.steps_per_level if self.steps is None else max(1, self.steps // levels)
        total = levels * per_level
        if total >= MAX_COUNT:
            raise ctx.error("steps_per_level", f"{levels} levels x {per_level} steps is too many steps",
                            f"use fewer than {MAX_COUNT // levels} steps per level")
        # one score per Langevin step, and the final denoiser
        common = self.common(ctx, nfe=total + self.denoise, final_denoise=self.denoise)
        common["steps"] = total
        common["grid"] = (f"the {levels} noise levels, sigma from SIGMA_MAX down to SIGMA_MIN, "
                          f"{per_level} Langevin steps each")
        return AnnealedLangevinNode(**common, **self.chain_start(), steps_per_level=per_level,
                                    step_size=self.step_size)
