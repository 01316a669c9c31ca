"""An MLP whose every hidden layer also receives the time embedding."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field, field_validator

from ...core.ir import NetworkNode
from ..options import PositiveInt
from ..registry import component
from ._time_features import TimeFeatureOptions

ACTIVATION_MODULES = {"silu": "SiLU", "relu": "ReLU", "gelu": "GELU", "tanh": "Tanh"}


@dataclass(frozen=True, kw_only=True)
class MLPNode(NetworkNode):
    hidden: tuple[int, ...]  # widths of the hidden layers
    activation: str  # torch.nn module name of the nonlinearity
    time_embedding: str  # fourier | sinusoidal
    embedding_dim: int  # width of the time embedding
    timed: bool  # False where the process has no time: no embedding, t is ignored
    scalar_output: bool  # one scalar per sample (an energy) instead of a vector shaped like x


@component("network", default=True, traits=("shardable",))
class MLPNetwork(TimeFeatureOptions):
    """net(x, t): an MLP on x whose every hidden layer also receives embed(t)."""

    kind: Literal["mlp"]
    hidden: list[PositiveInt] = Field(
        default_factory=lambda: [256, 256, 256], description="widths of the hidden layers"
    )
    activation: Literal["silu", "relu", "gelu", "tanh"] = "silu"
    time_embedding: Literal["fourier", "sinusoidal"] = Field("fourier", description="how t enters the network")

    @field_validator("hidden")
    @classmethod
    def _nonempty(cls, v: list[int]) -> list[int]:
        if not v:
            raise ValueError("hidden needs at least one layer width")
        return v

    def lower(self, ctx) -> MLPNode:
        return MLPNode(kind="mlp", hidden=tuple(self.hidden), activation=ACTIVATION_MODULES[self.activation],
                       time_embedding=self.time_embedding, embedding_dim=self.embedding_dim,
                       timed=not ctx.has("process", "timeless"),
                       scalar_output=ctx.has("parameterization", "scalar_energy"))
