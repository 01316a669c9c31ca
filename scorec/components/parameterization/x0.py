"""x0 parameterization: the network predicts the data x_0 itself (the denoiser D)."""

from __future__ import annotations

from typing import Literal

from ...core import expr as E
from ..options import Section
from ..registry import component
from ._base import PredictionNode, needs_noise

t = E.var("t")
# Salimans & Ho 2022's truncated SNR weighting: |D - x_0|^2 max(SNR, 1) is the eps loss at low noise
# (SNR > 1) and the plain x_0 loss at high noise, which stays finite where SNR = 0
TRUNCATED_SNR = E.call("max", E.div(E.pow_(E.call("alpha", t), E.num(2.0)), E.pow_(E.call("sigma", t), E.num(2.0))),
                       E.num(1.0))


@component("parameterization", traits=("terminal_safe",))
class X0Parameterization(Section):
    kind: Literal["x0"]

    def lower(self, ctx) -> PredictionNode:
        needs_noise(self, ctx, "predicts x_0 from x_t = alpha x_0 + sigma z")
        return PredictionNode(kind="x0", prediction="x_0", weight=TRUNCATED_SNR,
                              loss="max(SNR(t), 1) |x0(x_t, t) - x_0|^2, SNR = alpha^2 / sigma^2 "
                                   "(Salimans & Ho's truncated SNR weighting)")
