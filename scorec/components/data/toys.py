"""The built-in 2-D toy distributions: one component each, sharing their options' shape.

Each toy keeps its own jitter default here, in the schema, so that the validated spec
and its hash state it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from ...core.ir import DataNode
from ..options import NonNegativeFloat, PositiveInt, Section
from ..registry import component


@dataclass(frozen=True, kw_only=True)
class ToyNode(DataNode):
    n: int  # training set size
    noise: float  # std of the jitter (each toy says of what)


class _Toy(Section):
    n: PositiveInt = Field(20000, description="training set size")

    def lower(self, ctx) -> ToyNode:
        return ToyNode(kind=self.source, shape=(2,), n=self.n, noise=self.noise)


@component("data")
class SwissRoll(_Toy):
    """A spiral strip: (u cos u, u sin u) / 5, u ~ 1.5 pi (1 + 2 U[0, 1])."""

    source: Literal["swiss_roll"]
    noise: NonNegativeFloat = Field(0.05, description="std of the Gaussian jitter")


@component("data")
class Moons(_Toy):
    """Two interleaved half circles."""

    source: Literal["moons"]
    noise: NonNegativeFloat = Field(0.05, description="std of the Gaussian jitter")


@component("data")
class EightGaussians(_Toy):
    """Eight equal Gaussians on the circle of radius 2."""

    source: Literal["eight_gaussians"]
    noise: NonNegativeFloat = Field(0.1, description="std of each Gaussian")


@component("data")
class Checkerboard(_Toy):
    """Uniform on the dark squares of a 4 x 4 board over [-2, 2]^2."""

    source: Literal["checkerboard"]
    noise: NonNegativeFloat = Field(0.0, description="std of the Gaussian jitter")


@component("data")
class Pinwheel(_Toy):
    """Five arms spiralling out."""

    source: Literal["pinwheel"]
    noise: NonNegativeFloat = Field(0.3, description="radial std of each arm")


@component("data")
class Rings(_Toy):
    """Four concentric rings."""

    source: Literal["rings"]
    noise: NonNegativeFloat = Field(0.04, description="std of the Gaussian jitter")
