"""Implicit score matching (Hyvärinen 2005): 1/2 |s|^2 + tr(grad_x s), with the exact trace.

Any parameterization: the loss differentiates ScoreModel.score, whatever the network outputs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field

from ...core.hints import hint
from ...core.ir import ObjectiveNode
from .. import registry
from ..options import Section
from ..registry import component
from ._on_p_t import weighting


@dataclass(frozen=True, kw_only=True)
class ISMNode(ObjectiveNode):
    weighted: bool  # weight by sigma(t)^2 (on a noising process), else 1
    max_dim: int


@component("objective", default_for=("timeless",), traits=("per_example",))
class ISMObjective(Section):
    """E 1/2 |s(x, t)|^2 + tr(grad_x s(x, t)) on samples of p_t (no x_0 needed); d backward passes per batch."""

    kind: Literal["ism"]
    max_dim: Annotated[int, Field(ge=1, le=4096)] = Field(
        64, description="refuse data of more coordinates: the exact trace costs one backward pass each")

    def lower(self, ctx) -> ISMNode:
        dim = math.prod(ctx.data.shape)
        if dim > self.max_dim:
            cheaper = sorted(set(registry.fitting("objective", {"objective": ("dimension_free",)}))
                             & set(registry.satisfied_by("objective", ctx.chosen)))
            raise ctx.error("kind", f"ism's exact Hessian trace needs {dim} backward passes per batch "
                            f"(data of {dim} coordinates; max_dim is {self.max_dim})",
                            hint(*(("use ", registry.choice("objective", cheaper),
                                    " (cost independent of the dimension), ") if cheaper else ()),
                                 "or raise objective.max_dim"))
        weighted, expectation = weighting(ctx)
        return ISMNode(kind="ism", weighted=weighted, max_dim=self.max_dim,
                       equation=expectation + "[1/2 |score(x, t)|^2 + tr(grad_x score(x, t))]")
