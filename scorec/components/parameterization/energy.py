"""energy parameterization: the network outputs one scalar E(x, t); p_t(x) ∝ exp(-E(x, t)), score = -grad_x E."""

from __future__ import annotations

from typing import Literal

from ..options import Section
from ..registry import component
from ._base import PredictionNode


@component("parameterization", traits=("scalar_energy", "density_model"))
class EnergyParameterization(Section):
    kind: Literal["energy"]

    def lower(self, ctx) -> PredictionNode:
        return PredictionNode(kind="energy", prediction="eps = sigma(t) grad_x E",
                              loss="|sigma(t) grad_x E(x_t, t) - z|^2 (the sigma^2-weighted score loss)")
