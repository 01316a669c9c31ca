"""Euler-Maruyama predictor: one step of the reverse SDE."""

from __future__ import annotations

from typing import Literal

from ...core.ir import PredictorNode
from ..options import Section
from ..registry import component


@component("predictor")
class EulerMaruyamaPredictor(Section):
    kind: Literal["em"]

    def lower(self, ctx) -> PredictorNode:
        return PredictorNode(kind="em")
