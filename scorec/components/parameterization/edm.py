"""edm parameterization (Karras et al. 2022): D(x; sigma) = c_skip x + c_out F(c_in x, c_noise).

On a process with alpha(t) != 1 (vp, a discrete chain, flow) it preconditions x_t / alpha,
whose noise level is sigma / alpha (EDM's own scaling s(t)); the coefficients then read
c_skip = SIGMA_DATA^2 alpha / (sigma^2 + alpha^2 SIGMA_DATA^2) (on x itself),
c_out = sigma SIGMA_DATA / sqrt(sigma^2 + alpha^2 SIGMA_DATA^2),
c_in = 1 / sqrt(sigma^2 + alpha^2 SIGMA_DATA^2) (on x itself),
all finite where alpha = 0 (a zero terminal SNR: D = SIGMA_DATA F(x / sigma)). The network's
noise conditioning c_noise is the process's time_input(t): 1/4 log sigma on process edm, t
elsewhere (any increasing function of the noise level conditions the network alike).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from ..options import PositiveFloat, Section
from ..registry import component
from ._base import PredictionNode, needs_noise


@dataclass(frozen=True, kw_only=True)
class EDMNode(PredictionNode):
    sigma_data: float


@component("parameterization", traits=("terminal_safe",))
class EDMParameterization(Section):
    """Written `parameterization: edm`, or `parameterization: {kind: edm, sigma_data: 0.5}`."""

    kind: Literal["edm"]
    sigma_data: PositiveFloat = Field(0.5, description="std of the data the preconditioning assumes "
                                                        "(0.5 for images in [-1, 1])")

    def lower(self, ctx) -> EDMNode:
        needs_noise(self, ctx, "preconditions the network by the noise level sigma(t)")
        return EDMNode(kind="edm", sigma_data=self.sigma_data, prediction="F",
                       loss="|F(c_in x_t, t) - (x_0 - c_skip x_t) / c_out|^2 = |D(x_t, t) - x_0|^2 / c_out^2 (EDM)")
