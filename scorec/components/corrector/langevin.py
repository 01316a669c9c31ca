"""Langevin corrector (Song et al. 2021, Alg. 4): MCMC towards p_t at fixed t, step size from an SNR."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from ...core.ir import CorrectorNode
from ..options import PositiveFloat, PositiveInt, Section
from ..registry import component


@dataclass(frozen=True, kw_only=True)
class LangevinCorrectorNode(CorrectorNode):
    snr: float  # signal-to-noise ratio setting the step size
    steps: int  # Langevin steps per predictor step


@component("corrector", default=True)
class LangevinCorrector(Section):
    kind: Literal["langevin"]
    snr: PositiveFloat = Field(0.16, description="signal-to-noise ratio setting the step size")
    steps: PositiveInt = Field(1, description="corrector steps per predictor step")

    def lower(self, ctx) -> LangevinCorrectorNode:
        return LangevinCorrectorNode(kind="langevin", snr=self.snr, steps=self.steps, nfe=self.steps)
