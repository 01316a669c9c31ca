"""score parameterization: the network predicts grad_x log p_t(x) itself (NCSN, score SDEs)."""

from __future__ import annotations

from typing import Literal

from ..options import Section
from ..registry import component
from ._base import PredictionNode


@component("parameterization", traits=("density_model",))
class ScoreParameterization(Section):
    kind: Literal["score"]

    def lower(self, ctx) -> PredictionNode:
        # its standard loss is Song & Ermon's sigma^2 |s + z / sigma|^2, which is the eps loss of eps = -sigma s
        return PredictionNode(kind="score", prediction="eps = -sigma(t) score",
                              loss="|sigma(t) score(x_t, t) + z|^2 (Song & Ermon's sigma^2 weighting)")
