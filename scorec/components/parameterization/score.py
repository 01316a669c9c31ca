"""score parameterization: the network predicts grad_x log p_t(x) itself (NCSN, score SDEs)."""

from __future__ import annotations

from typing import Literal

from ...core.ir import ParameterizationNode
from ..options import Section
from ..registry import component


@component("parameterization")
class ScoreParameterization(Section):
    kind: Literal["score"]

    def lower(self, ctx) -> ParameterizationNode:
        return ParameterizationNode(kind="score")
