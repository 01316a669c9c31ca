"""A class label: the networks learn an embedding per class plus a null label, the unconditional model."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field

from ...core.ir import ConditionNode
from ..options import Section
from ..registry import component


@dataclass(frozen=True, kw_only=True)
class ClassConditionNode(ConditionNode):
    classes: int  # labels are 0 .. classes - 1; the null label is `classes`


@component("condition", needs={"data": ("labelled",), "objective": ("per_example",)}, default=True)
class ClassCondition(Section):
    """p(x | y) for the data's class labels y; `dropout` trains the same network on p(x) (the null label)."""

    kind: Literal["class"]
    dropout: Annotated[float, Field(ge=0, lt=1)] = Field(
        0.1, description="share of training labels replaced by the null label (0: no unconditional model)")

    def lower(self, ctx) -> ClassConditionNode:
        # the needs check made sure the data is labelled: its node says how many classes
        return ClassConditionNode(kind="class", dropout=float(self.dropout), classes=ctx.data.classes())
