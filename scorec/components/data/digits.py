"""scikit-learn's 8x8 handwritten digits (1797 images): small enough to train a U-Net on a CPU."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from ..options import Probability
from ..registry import component
from ._images import ImageNode, ImageOptions


@dataclass(frozen=True, kw_only=True)
class DigitsNode(ImageNode):
    test_fraction: float  # share of the images held out as the test split

    def classes(self) -> int:
        return 10  # the digit


@component("data", traits=("images", "labelled"))
class DigitsData(ImageOptions):
    """sklearn.datasets.load_digits: 1797 grey 8x8 images of 16 levels, shape (1, 8, 8) in [-1, 1]."""

    source: Literal["digits"]
    test_fraction: Probability = Field(0.2, description="share of the images held out for testing")

    def lower(self, ctx) -> DigitsNode:
        return DigitsNode(kind="digits", shape=(1, 8, 8), hflip=self.hflip, test_fraction=self.test_fraction)
