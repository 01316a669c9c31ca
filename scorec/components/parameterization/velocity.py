"""velocity parameterization: the network predicts u = alpha'(t) x_0 + sigma'(t) z, the time derivative
of the path x_t = alpha(t) x_0 + sigma(t) z (flow matching: u = z - x_0 on the linear path of process flow).

(x_t, u) determine (x_0, z) wherever alpha sigma' - sigma alpha' != 0 (the SNR falls with t), so
the denoiser and the score come back from one output. alpha' and sigma' are derived in closed
form from the process's own definitions (core/derivatives.py) and emitted beside ScoreModel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ...core.ir import Definition
from ..options import Section
from ...core.derivatives import kernel_derivatives
from ..registry import component
from ._base import PredictionNode


@dataclass(frozen=True, kw_only=True)
class VelocityNode(PredictionNode):
    derivatives: tuple[Definition, ...]  # d/dt of alpha, sigma (and mean_shift), with their helpers
    d_alpha: str  # the names of alpha'(t), sigma'(t), mean_shift'(t) among them ("" where no shift)
    d_sigma: str
    d_mean_shift: str


@component("parameterization", needs={"process": ("continuous_time",)}, traits=("terminal_safe", "path_velocity"))
class VelocityParameterization(Section):
    kind: Literal["velocity"]

    def lower(self, ctx) -> VelocityNode:
        shifted = bool(getattr(ctx.process, "mean_shift", False))
        names = ("alpha", "sigma", "mean_shift") if shifted else ("alpha", "sigma")
        derivatives, d = kernel_derivatives(ctx.process, names)
        return VelocityNode(kind="velocity", prediction="u", derivatives=derivatives, d_alpha=d + "alpha",
                            d_sigma=d + "sigma", d_mean_shift=d + "mean_shift" if shifted else "",
                            loss="|u(x_t, t) - (alpha'(t) x_0 + sigma'(t) z)|^2 (conditional flow matching)")
