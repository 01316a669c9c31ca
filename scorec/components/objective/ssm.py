"""Sliced score matching (Song et al. 2019): v^T (grad_x s) v + 1/2 (v^T s)^2 over random directions v.

Any parameterization: the loss differentiates ScoreModel.score, whatever the network outputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field

from ...core.ir import ObjectiveNode
from ..options import Section
from ..registry import component
from ._on_p_t import weighting


@dataclass(frozen=True, kw_only=True)
class SSMNode(ObjectiveNode):
    projections: int
    distribution: str  # gaussian | rademacher
    variance_reduction: bool
    weighted: bool  # on a noising process: weight by sigma(t)^2 and draw x_t of p_t, else x = x_0


@component("objective", traits=("dimension_free", "per_example"))
class SSMObjective(Section):
    """E_v [v^T grad_x s(x, t) v + 1/2 (v^T s(x, t))^2] on samples of p_t (no x_0 needed): the trace of ism
    estimated by Hutchinson's trick, one Hessian-vector product (backward pass) per projection."""

    kind: Literal["ssm"]
    projections: Annotated[int, Field(ge=1, le=1024)] = Field(
        1, description="random directions v per sample (each costs one backward pass; more lowers the variance)")
    distribution: Literal["gaussian", "rademacher"] = Field(
        "gaussian", description="law of v: gaussian N(0, I) or rademacher (uniform signs +-1); both have "
        "E[v v^T] = I, which makes the slice an unbiased estimate of the trace")
    variance_reduction: bool = Field(
        False, description="SSM-VR: replace 1/2 (v^T s)^2 by its expectation over v, 1/2 |s|^2 "
        "(exact because E[v v^T] = I; lower variance)")

    def lower(self, ctx) -> SSMNode:
        weighted, expectation = weighting(ctx)
        square = "1/2 |score(x, t)|^2" if self.variance_reduction else "1/2 (v^T score(x, t))^2"
        return SSMNode(
            kind="ssm", projections=self.projections, distribution=self.distribution,
            variance_reduction=self.variance_reduction, weighted=weighted,
            equation=expectation + f"E_v [v^T grad_x score(x, t) v + {square}],  v ~ {self.distribution} "
            f"({self.projections} per sample)",
        )
