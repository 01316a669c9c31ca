"""The linear path of rectified flow / conditional flow matching: x_t = (1 - t) x_0 + t n.

alpha(t) = 1 - t, sigma(t) = t. Its equivalent SDE (the one whose marginals are these) is
dx = -x / (1 - t) dt + sqrt(2 t / (1 - t)) dw: drift and diffusion blow up at t = 1, where
alpha = 0, though the probability-flow velocity f - g^2 score / 2 = (x - D(x, t)) / t stays
finite there. So samplers walk t from 1 - T_EPS down to T_EPS, and training draws t from
[T_EPS, 1 - T_EPS] too (score = -eps / t is infinite at t = 0). The prior at 1 - T_EPS is
N(0, (1 - T_EPS)^2 I), neglecting T_EPS x_0.

Training times are uniform or logit-normal (Esser et al. 2024: t = sigmoid(m + s n)), the
process's training-time law (draw_time), which every objective follows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import Field

from ...core import expr as E
from ...core.ir import Constant, Definition
from ..options import PositiveFloat, Section
from ..registry import component
from ._gaussian import CONTINUOUS_TRAITS, GaussianSDENode

t = E.var("t")


@dataclass(frozen=True, kw_only=True)
class LinearPathNode(GaussianSDENode):
    training_time: str  # uniform | logit_normal

    def grid_text(self, steps: int) -> str:
        eps = self.constant("T_EPS")
        return f"t uniform from 1 - T_EPS = {1 - eps:g} to T_EPS = {eps:g} in {steps} steps"


@component("process", traits=CONTINUOUS_TRAITS + ("gaussian_kernel", "straight_path"))
class FlowProcess(Section):
    """x_t = (1 - t) x_0 + t n, t in [t_eps, 1 - t_eps]."""

    kind: Literal["flow"]
    training_time: Literal["uniform", "logit_normal"] = Field(
        "uniform", description="law of the training times: uniform, or logit-normal t = sigmoid(logit_mean + "
                               "logit_std n) (Esser et al. 2024), which trains the middle of the path most")
    logit_mean: float = Field(0.0, allow_inf_nan=False, description="mean of logit(t) (logit_normal)")
    logit_std: PositiveFloat = Field(1.0, description="std of logit(t) (logit_normal)")
    t_eps: Annotated[float, Field(gt=0, lt=0.5)] = Field(
        1e-3, description="t stays in [t_eps, 1 - t_eps]: the SDE's drift and diffusion are infinite at t = 1, "
                          "the score at t = 0")

    def lower(self, ctx) -> LinearPathNode:
        constants = [Constant("T_EPS", self.t_eps, "t stays in [T_EPS, 1 - T_EPS] in training and sampling")]
        if self.training_time == "logit_normal":
            constants += [Constant("LOGIT_MEAN", self.logit_mean, "training times: logit(t) ~ N(LOGIT_MEAN, LOGIT_STD^2)"),
                          Constant("LOGIT_STD", self.logit_std, "std of logit(t) in training")]
        one = E.num(1.0)
        definitions = (
            Definition("alpha", E.sub(one, t), "mean coefficient alpha(t) = 1 - t"),
            Definition("sigma", t, "std sigma(t) = t"),
            Definition("g", E.call("sqrt", E.div(E.mul(E.num(2.0), t), E.sub(one, t))),
                       "diffusion of the equivalent SDE, g(t) = sqrt(2 t / (1 - t)) (infinite at t = 1)"),
        )
        return LinearPathNode(kind="flow", equation="x_t = (1 - t) x_0 + t n  (dx = -x / (1 - t) dt + "
                              "sqrt(2 t / (1 - t)) dw)", constants=tuple(constants), definitions=definitions,
                              drift_coef=E.div(E.num(-1.0), E.sub(one, t)), prior_std=1.0 - self.t_eps,
                              training_time=self.training_time)
