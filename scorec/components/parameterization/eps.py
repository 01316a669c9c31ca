"""eps parameterization: the network predicts the noise z in x_t = alpha(t) x_0 + sigma(t) z (DDPM)."""

from __future__ import annotations

from typing import Literal

from ...core.diagnostics import SpecError
from ...core.ir import ParameterizationNode
from .. import registry
from ..options import Section
from ..registry import component


@component("parameterization", default=True)
class EpsParameterization(Section):
    kind: Literal["eps"]

    def lower(self, ctx) -> ParameterizationNode:
        # Without noise (sigma = 0) there is no z to predict and score = -eps / sigma divides by
        # zero; a direct score or energy model of the data density is fine there.
        if ctx.has("process", "timeless"):
            others = sorted(k for k in registry.components("parameterization") if k != self.kind)
            raise SpecError(f"parameterization '{self.kind}' predicts the noise in x_t = alpha x_0 + sigma z, and "
                            f"process '{ctx.chosen['process'].kind}' has no noise (sigma = 0)", ctx.span(),
                            f"use {registry.choice('parameterization', others)} (a model of the data density itself)")
        return ParameterizationNode(kind="eps")
