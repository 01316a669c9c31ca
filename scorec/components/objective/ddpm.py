"""DDPM's simple loss (Ho et al. 2020): regress the noise over uniform chain steps."""

from __future__ import annotations

from typing import Literal

from ...core.ir import ObjectiveNode
from ..options import Section
from ..registry import component


@component("objective", needs={"process": ("discrete_time",)}, default_for=("discrete_time",))
class DDPMObjective(Section):
    """E_i E |eps(x_i, i) - z|^2 over uniform integer i."""

    kind: Literal["ddpm"]

    def lower(self, ctx) -> ObjectiveNode:
        return ObjectiveNode(
            kind="ddpm",
            equation="E_i E_z |eps(x_i, i) - z|^2,  x_i = sqrt(alpha_bar_i) x_0 + sqrt(1 - alpha_bar_i) z",
        )
