"""Where MCMC chains start (`init`): options and IR fields shared by the MCMC samplers.

One set of options and one template fragment (templates/sampler/_chain_start.py.j2): a
sampler that lets the user choose its chains' start subclasses ChainStartOptions, lowers
with `self.chain_start()`, and its fragment includes the shared one and calls
`chain_start(x, generator)` first.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field, model_validator

from ...core.hints import SetKey, hint
from ...core.ir import SamplerNode
from ..options import FieldError, PositiveFloat
from ._base import SamplerOptions

Bound = Annotated[float, Field(allow_inf_nan=False)]
DATA_NOISE = 0.1  # default std of the noise added to data points under init: data


@dataclass(frozen=True, kw_only=True)
class ChainStartNode(SamplerNode):
    init: str  # prior | uniform | data
    init_low: float | None  # uniform box; None: the data's per-coordinate minimum
    init_high: float | None  # None: the data's per-coordinate maximum
    init_noise: float  # std of the noise on data points (init: data)


class ChainStartOptions(SamplerOptions):
    init: Literal["prior", "uniform", "data"] = Field(
        "prior", description="where chains start: prior (the process's prior_sample; for process none a "
        "Gaussian with the data's mean and std), uniform (a box), or data (data points plus noise: a "
        "diagnostic, it starts at the answer)")
    init_low: Bound | None = Field(
        None, description="init: uniform: lower bound of the box, every coordinate (default: the data's minimum)")
    init_high: Bound | None = Field(
        None, description="init: uniform: upper bound of the box, every coordinate (default: the data's maximum)")
    init_noise: PositiveFloat | None = Field(
        None, description=f"init: data: std of the Gaussian noise added to the data points (default {DATA_NOISE})")

    @model_validator(mode="after")
    def _init_options_fit(self):
        for name, mode in (("init_low", "uniform"), ("init_high", "uniform"), ("init_noise", "data")):
            if getattr(self, name) is not None and self.init != mode:
                raise FieldError((name, "init"), f"{name} applies to init: {mode} (got init: {self.init})",
                                 hint("set ", SetKey(("init",), (mode,)), f", or remove {name}"))
        if (self.init_low is None) != (self.init_high is None):
            missing = "init_high" if self.init_high is None else "init_low"
            raise FieldError((missing,), "a uniform box needs both init_low and init_high, or neither "
                             "(then it spans the data's range)", f"set {missing} too")
        if self.init_low is not None and not self.init_low < self.init_high:
            raise FieldError(("init_low", "init_high"),
                             f"init_low ({self.init_low:g}) must be smaller than init_high ({self.init_high:g})")
        return self

    def chain_start(self) -> dict:
        """The ChainStartNode fields."""
        noise = self.init_noise if self.init_noise is not None else DATA_NOISE
        return dict(init=self.init, init_low=self.init_low, init_high=self.init_high, init_noise=noise)
