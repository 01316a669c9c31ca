"""v parameterization (Salimans & Ho 2022): the network predicts v = alpha(t) eps - sigma(t) x_0."""

from __future__ import annotations

from typing import Literal

from ..options import Section
from ..registry import component
from ._base import PredictionNode, needs_noise


@component("parameterization", traits=("terminal_safe",))
class VParameterization(Section):
    kind: Literal["v"]

    def lower(self, ctx) -> PredictionNode:
        needs_noise(self, ctx, "predicts v = alpha eps - sigma x_0")
        return PredictionNode(kind="v", prediction="v", loss="|v(x_t, t) - (alpha(t) z - sigma(t) x_0)|^2 (the v loss)")
