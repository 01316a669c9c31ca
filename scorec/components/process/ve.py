"""Variance-exploding SDE (Song et al. 2021): pure diffusion over a geometric noise scale."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from ...core import expr as E
from ...core.ir import Constant, Definition
from ..options import PositiveFloat, Probability, Section, ordered
from ..registry import component
from ._gaussian import CONTINUOUS_TRAITS, GaussianSDENode, call, gaussian_sde

t = E.var("t")


@component("process", traits=CONTINUOUS_TRAITS, template="process/_gaussian_sde.py.j2")
class VEProcess(Section):
    """dx = sigma(t) sqrt(2 log(sigma_max/sigma_min)) dw."""

    kind: Literal["ve"]
    sigma_min: PositiveFloat = Field(0.01, description="noise scale at t=0")
    sigma_max: PositiveFloat = Field(50.0, description="noise scale at t=1; about the largest data distance")
    t_eps: Probability = Field(1e-5, description="smallest time used in training and sampling")

    @model_validator(mode="after")
    def _ordered(self):
        ordered(self, "sigma_min", "sigma_max")
        return self

    def lower(self, ctx) -> GaussianSDENode:
        constants = (
            Constant("SIGMA_MIN", self.sigma_min, "noise scale at t = 0"),
            Constant("SIGMA_MAX", self.sigma_max, "noise scale at t = 1"),
            Constant("T_EPS", self.t_eps, "smallest time used by training and sampling"),
        )
        smin, smax = E.var("SIGMA_MIN"), E.var("SIGMA_MAX")
        definitions = (
            Definition("noise_scale", E.mul(smin, E.pow_(E.div(smax, smin), t)),
                       "geometric noise scale SIGMA_MIN (SIGMA_MAX / SIGMA_MIN)^t"),
            Definition("alpha", E.num(1.0), "mean coefficient m(t) = 1"),
            # x_t = x_0 + int_0^t g dw has variance noise_scale(t)^2 - SIGMA_MIN^2, exactly
            Definition("sigma",
                       E.call("sqrt", E.sub(E.pow_(call("noise_scale"), E.num(2.0)), E.pow_(smin, E.num(2.0)))),
                       "std s(t) = sqrt(noise_scale(t)^2 - SIGMA_MIN^2)"),
            Definition("g", E.mul(call("noise_scale"),
                                  E.call("sqrt", E.mul(E.num(2.0), E.call("log", E.div(smax, smin))))),
                       "diffusion g(t) = noise_scale(t) sqrt(2 log(SIGMA_MAX / SIGMA_MIN))"),
        )
        return gaussian_sde("ve", "dx = sqrt(d[noise_scale(t)^2]/dt) dw,  noise_scale(t) = SIGMA_MIN "
                            "(SIGMA_MAX / SIGMA_MIN)^t", constants, definitions, E.num(0.0))
