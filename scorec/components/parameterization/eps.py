"""eps parameterization: the network predicts the noise z in x_t = alpha(t) x_0 + sigma(t) z (DDPM)."""

from __future__ import annotations

from typing import Literal

from ...ir import ParameterizationNode
from ..options import Section
from ..registry import component


@component("parameterization", default=True)
class EpsParameterization(Section):
    kind: Literal["eps"]

    def lower(self, ctx) -> ParameterizationNode:
        return ParameterizationNode(kind="eps")
