"""Reverse-diffusion predictor (Song et al. 2021): undo the exact forward step of the kernel."""

from __future__ import annotations

from typing import Literal

from ...core.ir import PredictorNode
from ..options import Section
from ..registry import component


@component("predictor", default=True)
class ReverseDiffusionPredictor(Section):
    kind: Literal["reverse_diffusion"]

    def lower(self, ctx) -> PredictorNode:
        return PredictorNode(kind="reverse_diffusion")
