"""No noising process: the model is of the data density itself (energy-based models, plain score matching)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Literal

from pydantic import Field

from ...core.ir import ProcessNode
from ..options import PositiveFloat, Section
from ..registry import component


@dataclass(frozen=True, kw_only=True)
class DensityNode(ProcessNode):
    prior_mean: tuple[float, ...] | float  # where MCMC chains start: N(PRIOR_MEAN, PRIOR_STD^2 I)
    prior_std: float

    def grid_text(self, steps: int) -> str:
        return "no time: every step targets the data density"

    def mcmc_text(self) -> str:
        return "no time (the data density itself)"


@component("process", traits=("density_end", "timeless"))
class NoProcess(Section):
    """p(x) itself; the network gets no time input. MCMC chains start from a Gaussian with the data's mean and std."""

    kind: Literal["none"]
    prior_std: PositiveFloat | None = Field(
        None, description="std of the Gaussian MCMC chains start from (default: the data's, for gmm data; else 1)")

    def lower(self, ctx) -> DensityNode:
        mean, std = 0.0, 1.0
        if ctx.has("data", "mixture"):  # the mixture's moments, in closed form
            mean, std = _mixture_moments(ctx.data)
        std = self.prior_std if self.prior_std is not None else std
        return DensityNode(kind="none", equation="no noise: x ~ p_data, modelled as p(x) proportional to exp(-E(x))",
                           constants=(), prior_mean=mean, prior_std=std)


def _mixture_moments(data) -> tuple[tuple[float, ...], float]:
    """The mixture's mean and its root mean variance per coordinate, computed exactly from the numbers
    as written (0.5 * -0.6 + 0.5 * 0.3 is 0.15, not 0.15000000000000002) and rounded once."""
    def exact(x):
        return Fraction(repr(x))

    weights = [exact(w) for w in data.weights]
    means = [[exact(x) for x in m] for m in data.means]
    dims = len(means[0])
    mean = [sum(w * m[d] for w, m in zip(weights, means)) for d in range(dims)]
    second = sum(w * (exact(s) ** 2 + sum(x**2 for x in m) / dims) for w, m, s in zip(weights, means, data.stds))
    variance = second - sum(x**2 for x in mean) / dims
    return tuple(float(x) for x in mean), math.sqrt(max(float(variance), 1e-12))
