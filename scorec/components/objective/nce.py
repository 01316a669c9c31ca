"""Noise-contrastive estimation (Gutmann & Hyvärinen 2010) of an energy model with a learned log Z."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from ...core.ir import ObjectiveNode
from ..options import PositiveInt, Section
from ..registry import component


@dataclass(frozen=True, kw_only=True)
class NCENode(ObjectiveNode):
    noise_ratio: int  # nu: noise samples per data sample
    covariance: str  # full | diagonal: the noise Gaussian's covariance


@component("objective", needs={"process": ("timeless",), "parameterization": ("scalar_energy",)},
           traits=("dimension_free", "stateful", "normalized"))
class NCEObjective(Section):
    """Logistic regression of data against Gaussian noise fitted to the data, with the logit
    log p(x) - log q(x) - log nu and log p(x) = -E(x) - log_z: log_z is learned, so p is normalized."""

    kind: Literal["nce"]
    noise_ratio: PositiveInt = Field(
        4, description="nu: noise samples per data sample (more: a lower-variance estimate, a costlier step)")
    covariance: Literal["full", "diagonal"] = Field(
        "full", description="covariance of the noise Gaussian fitted to the training data")

    def lower(self, ctx) -> NCENode:
        return NCENode(
            kind="nce", noise_ratio=self.noise_ratio, covariance=self.covariance,
            equation=f"logistic loss, data vs {self.noise_ratio}x noise q = N(data mean, {self.covariance} cov); "
                     f"logit -E(x) - log_z - log q(x) - log {self.noise_ratio}",
        )
