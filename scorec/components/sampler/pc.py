"""Predictor-corrector sampling (Song et al. 2021): a reverse-SDE step, then MCMC at the new time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from ...core.ir import CorrectorNode, PredictorNode, SamplerNode
from .. import registry
from ..registry import component
from ._base import SamplerOptions

Predictor = registry.union("predictor")
Corrector = registry.union("corrector")


@dataclass(frozen=True, kw_only=True)
class PCNode(SamplerNode):
    predictor: PredictorNode
    corrector: CorrectorNode


@component("sampler", needs={"process": ("continuous_time",)}, default_for=("continuous_time",))
class PCSampler(SamplerOptions):
    """At each time, correct towards p_t, then predict the next time."""

    sampler: Literal["pc"]
    predictor: Predictor = Field(
        default_factory=lambda: registry.default_kind("predictor"), description="the reverse-SDE step")
    corrector: Corrector = Field(
        default_factory=lambda: registry.default_options("corrector"), description="MCMC at fixed t; null for none")

    def lower(self, ctx) -> PCNode:
        predictor = ctx.lower_child("predictor", "predictor", self.predictor)
        corrector = ctx.lower_child("corrector", "corrector", self.corrector)
        nfe = self.steps * (predictor.nfe + corrector.nfe) + self.denoise
        return PCNode(**self.common(ctx, nfe=nfe, final_denoise=self.denoise), predictor=predictor, corrector=corrector)
