"""MALA corrector: Metropolis-adjusted Langevin towards p_t at fixed t, for models with an energy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from ...core.ir import CorrectorNode
from ..options import PositiveFloat, PositiveInt, Section
from ..registry import component


@dataclass(frozen=True, kw_only=True)
class MALACorrectorNode(CorrectorNode):
    snr: float  # signal-to-noise ratio setting the proposal's step size, as the langevin corrector's
    steps: int  # proposals per predictor step


@component("corrector", needs={"parameterization": ("scalar_energy",)})
class MALACorrector(Section):
    """Langevin proposals with the langevin corrector's SNR step, accepted with the Metropolis-Hastings
    ratio of exp(-E(x, t)): the correction removes the step's bias at each t."""

    kind: Literal["mala"]
    snr: PositiveFloat = Field(0.16, description="signal-to-noise ratio setting the proposal's step size")
    steps: PositiveInt = Field(1, description="MALA proposals per predictor step")

    def lower(self, ctx) -> MALACorrectorNode:
        # the energy and score of the predictor's output, then one evaluation per proposal
        return MALACorrectorNode(kind="mala", snr=self.snr, steps=self.steps, nfe=1 + self.steps)
