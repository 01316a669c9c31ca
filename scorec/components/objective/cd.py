"""Contrastive divergence for energy models, with short-run Langevin negatives and a replay
buffer of persistent chains (Hinton 2002; Tieleman 2008; Du & Mordatch 2019)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field

from ...core.ir import ObjectiveNode
from ..options import NonNegativeFloat, PositiveFloat, PositiveInt, Section
from ..registry import component


@dataclass(frozen=True, kw_only=True)
class CDNode(ObjectiveNode):
    steps: int  # Langevin steps per negative
    step_size: float  # eps of x <- x - eps grad E(x) + noise z
    noise: float | None  # std of the Langevin noise (None: sqrt(2 step_size))
    persistent: bool  # chains continue from a replay buffer
    buffer: int  # chains kept in the buffer
    reinit: float  # probability that a chain restarts from init noise
    alpha: float  # weight of the energy-magnitude regularizer
    init: str  # where fresh chains start: uniform | gaussian | data


@component("objective", needs={"process": ("timeless",), "parameterization": ("scalar_energy",)},
           traits=("dimension_free", "stateful"))
class CDObjective(Section):
    """E(x+) - E(x-) + alpha (E(x+)^2 + E(x-)^2), x- from short-run Langevin on E (not differentiated)."""

    kind: Literal["cd"]
    steps: PositiveInt = Field(20, description="Langevin steps per negative sample")
    step_size: PositiveFloat = Field(0.01, description="eps of the Langevin step x <- x - eps grad E + noise z")
    noise: NonNegativeFloat | None = Field(
        None, description="std of the Langevin noise; default sqrt(2 step_size), the step that targets "
                          "exp(-E); Du & Mordatch use a much smaller one (colder negatives, a sharper E)")
    persistent: bool = Field(True, description="continue chains from a replay buffer of past negatives")
    buffer: PositiveInt = Field(10000, description="chains kept in the replay buffer (persistent)")
    reinit: Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)] = Field(
        0.05, description="probability that a chain drawn from the buffer restarts from init noise "
                          "(Du & Mordatch 2019: 0.05)")
    # Du & Mordatch use 1 on images; on a 2-D mixture 0.1 already leaves the model 30% too broad and 1
    # flattens it entirely (measured), while 0.01 bounds E and fits it
    alpha: NonNegativeFloat = Field(
        0.01, description="weight of alpha (E(x+)^2 + E(x-)^2), which keeps the energy's scale bounded; "
                          "it pulls E towards 0, so larger values flatten the model")
    init: Literal["uniform", "gaussian", "data"] = Field(
        "uniform", description="fresh chains start uniform in the data's bounding box (padded by 10%), "
                               "from a Gaussian with the data's mean and std per coordinate, "
                               "or at the batch's data points (Hinton's CD-k; a buffer is first filled "
                               "from the Gaussian)")

    def lower(self, ctx) -> CDNode:
        return CDNode(
            kind="cd", steps=self.steps, step_size=self.step_size, noise=self.noise, persistent=self.persistent,
            buffer=self.buffer, reinit=self.reinit, alpha=self.alpha, init=self.init,
            equation=f"E(x+) - E(x-) + {self.alpha:g} (E(x+)^2 + E(x-)^2); x-: {self.steps} Langevin steps"
                     + (f", buffer of {self.buffer} chains" if self.persistent else f" from {self.init}"),
        )
