"""energy parameterization: the network outputs one scalar E(x, t); p_t(x) ∝ exp(-E(x, t)), score = -grad_x E."""

from __future__ import annotations

from typing import Literal

from ...core.ir import ParameterizationNode
from ..options import Section
from ..registry import component


@component("parameterization", traits=("scalar_energy",))
class EnergyParameterization(Section):
    kind: Literal["energy"]

    def lower(self, ctx) -> ParameterizationNode:
        return ParameterizationNode(kind="energy")
