"""eps parameterization: the network predicts the noise z in x_t = alpha(t) x_0 + sigma(t) z (DDPM)."""

from __future__ import annotations

from typing import Literal

from ..options import Section
from ..registry import component
from ._base import PredictionNode, needs_noise


@component("parameterization", default=True)
class EpsParameterization(Section):
    kind: Literal["eps"]

    def lower(self, ctx) -> PredictionNode:
        # Without noise (sigma = 0) there is no z to predict and score = -eps / sigma divides by zero.
        needs_noise(self, ctx, "predicts the noise in x_t = alpha x_0 + sigma z")
        return PredictionNode(kind="eps", prediction="eps", loss="|eps(x_t, t) - z|^2 (DDPM's simple loss)")
