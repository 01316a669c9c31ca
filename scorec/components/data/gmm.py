"""A Gaussian mixture with isotropic components: the data whose exact score is known."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field, model_validator

from ...core.ir import DataNode
from ..options import FieldError, PositiveFloat, PositiveInt, Section
from ..registry import component


@dataclass(frozen=True, kw_only=True)
class GMMNode(DataNode):
    n: int  # training set size
    weights: tuple[float, ...]  # mixture weights w_k
    means: tuple[tuple[float, ...], ...]  # component means, k x d
    stds: tuple[float, ...]  # component stds

    def classes(self) -> int:
        return len(self.weights)  # a point's label is the component it was drawn from


@component("data", traits=("mixture", "labelled"))
class GMMData(Section):
    """x ~ sum_k w_k N(mu_k, std_k^2 I)."""

    source: Literal["gmm"]
    n: PositiveInt = Field(20000, description="training set size")
    weights: list[PositiveFloat] | None = Field(None, description="mixture weights; uniform when omitted")
    means: list[list[Annotated[float, Field(allow_inf_nan=False)]]] = Field(
        ..., description="component means, k rows of d numbers"
    )
    std: PositiveFloat | list[PositiveFloat] = Field(0.1, description="component std: one for all, or one each")

    @model_validator(mode="after")
    def _consistent(self) -> "GMMData":
        k = len(self.means)
        if k == 0:
            raise FieldError(("means",), "a gmm needs at least one mean")
        dims = [len(m) for m in self.means]
        if len(set(dims)) != 1 or 0 in dims:
            common = max(set(dims), key=dims.count)
            odd = next((i for i, d in enumerate(dims) if d != common or d == 0), 0)
            raise FieldError((("means", odd),), "every mean needs the same, non-zero number of coordinates "
                             f"(got lengths {sorted(set(dims))})")
        if self.weights is not None:
            if len(self.weights) != k:
                raise FieldError(("weights",), f"{len(self.weights)} weights for {k} means")
            total = sum(self.weights)
            if abs(total - 1.0) > 1e-6:
                raise FieldError(("weights",), f"weights must sum to 1 (they sum to {total:g})")
        if isinstance(self.std, list) and len(self.std) != k:
            raise FieldError(("std",), f"{len(self.std)} stds for {k} means")
        return self

    def lower(self, ctx) -> GMMNode:
        k = len(self.means)
        weights = tuple(self.weights) if self.weights is not None else (1.0 / k,) * k
        stds = tuple(self.std) if isinstance(self.std, list) else (float(self.std),) * k
        return GMMNode(kind="gmm", shape=(len(self.means[0]),), n=self.n, weights=weights,
                       means=tuple(tuple(m) for m in self.means), stds=stds)
