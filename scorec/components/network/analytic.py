"""The exact score (and energy) of Gaussian-mixture data under the process: judges samplers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ...core.ir import NetworkNode
from ..options import Section
from ..registry import component


@dataclass(frozen=True, kw_only=True)
class AnalyticNode(NetworkNode):
    pass


@component("network", needs={"data": ("mixture",)}, traits=("exact",))
class AnalyticNetwork(Section):
    """The exact score of the gmm data perturbed by the process (no training)."""

    kind: Literal["analytic"]

    def lower(self, ctx) -> AnalyticNode:
        return AnalyticNode(kind="analytic")
