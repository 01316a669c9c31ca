"""What every process with a Gaussian kernel shares: its IR node and the kernel algebra.

A continuous process here has a linear drift f(x, t) = c(t) x, so x_t | x_0 is
N(alpha(t) x_0, sigma(t)^2 I) with alpha = exp(int_0^t c) and
sigma^2 = alpha^2 int_0^t g^2 / alpha^2. Each process states these as Definitions over
its named constants; tests check them against Monte-Carlo simulation of the SDE.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field, model_validator

from ...core import expr as E
from ...core.ir import Constant, Definition, ProcessNode
from ..options import PositiveFloat, Probability, Section, ordered

t = E.var("t")

# What every continuous Gaussian SDE provides (its components' `traits`).
CONTINUOUS_TRAITS = ("continuous_time", "noise_conditional", "density_end", "gaussian_kernel")


def call(name: str) -> E.Expr:
    """name(t), a call of another definition."""
    return E.call(name, t)


def one_minus_exp(x: E.Expr) -> E.Expr:
    """1 - exp(-x) as -expm1(-x): accurate for small t, where sigma is tiny."""
    return E.Neg(E.call("expm1", E.Neg(x)))


@dataclass(frozen=True, kw_only=True)
class GaussianSDENode(ProcessNode):
    """dx = c(t) x dt + g(t) dw, with its kernel alpha(t), sigma(t)."""

    definitions: tuple[Definition, ...]  # in dependency order; always alpha, sigma, g
    drift_coef: E.Expr  # f(x, t) = drift_coef(t) * x
    prior_std: float  # x_1 ~ N(0, prior_std^2 I); prior_std = sigma(1)
    training_time: str = "uniform"  # the law of draw_time: uniform in t, or log_snr (uniform in log-SNR)

    def inline(self, e: E.Expr) -> E.Expr:
        """Replace calls of the definitions by their bodies (to evaluate at compile time)."""
        bodies = {d.name: d.expr for d in self.definitions}

        def expand(name: str):
            return lambda arg: E.replace_var(self.inline(bodies[name]), "t", arg)

        return E.substitute(e, {name: expand(name) for name in bodies})

    def grid_text(self, steps: int) -> str:
        """How time_grid(steps) lays out the sampler's times, in words."""
        return f"t uniform from 1 to T_EPS = {self.constant('T_EPS'):g} in {steps} steps"

    def mcmc_text(self) -> str:
        """Where samplers that run MCMC at the grid's last time run it, in words."""
        return f"t fixed at T_EPS = {self.constant('T_EPS'):g}"

    def at(self, e: E.Expr, time: float) -> float:
        """The value of an expression in t (over the definitions) at t = time."""
        return E.evaluate(self.inline(e), {**self.env(), "t": time})


@dataclass(frozen=True)
class KernelTable:
    """A function of t tabulated at t = k / grid (k = 0..grid) in float64 with its exact
    slopes; emitted code interpolates it by cubic Hermite splines."""

    name: str
    doc: str
    values: tuple[float, ...]
    slopes: tuple[float, ...]

    def __call__(self, time: float) -> float:
        """The interpolant at `time`, as the emitted program computes it."""
        grid = len(self.values) - 1
        u = min(max(time, 0.0), 1.0) * grid
        k = min(int(u), grid - 1)
        s, h = u - k, 1.0 / grid
        return ((2 * s**3 - 3 * s**2 + 1) * self.values[k] + (s**3 - 2 * s**2 + s) * h * self.slopes[k]
                + (-2 * s**3 + 3 * s**2) * self.values[k + 1] + (s**3 - s**2) * h * self.slopes[k + 1])


@dataclass(frozen=True, kw_only=True)
class AffineGaussianSDENode(GaussianSDENode):
    """dx = (c(t) x + b(t)) dt + g(t) dw: the kernel's mean is alpha(t) x_0 + mean_shift(t).

    With b = 0 there is no shift (mean_shift is False and no such function is emitted).
    Kernel functions without a closed form are `tables`, which the definitions call.
    Fragments that use the kernel's mean (a loss that draws x_t, Tweedie's denoiser, an
    exact score) add mean_shift(t) where `process.mean_shift` is true.
    """

    drift_offset: E.Expr  # b(t)
    mean_shift: bool  # the kernel mean is alpha(t) x_0 + mean_shift(t), mean_shift(t) a definition
    prior_mean: float  # x_1 ~ N(prior_mean, prior_std^2 I); prior_mean = mean_shift(1)
    tables: tuple[KernelTable, ...] = ()

    def at(self, e: E.Expr, time: float) -> float:
        return E.evaluate(self.inline(e), {**self.env(), "t": time}, {tb.name: tb for tb in self.tables})


def gaussian_sde(kind: str, equation: str, constants: tuple[Constant, ...], definitions: tuple[Definition, ...],
                 drift_coef: E.Expr, training_time: str = "uniform") -> GaussianSDENode:
    """The node, with the prior's std sigma(1) computed from the definitions."""
    node = GaussianSDENode(kind=kind, equation=equation, constants=constants, definitions=definitions,
                           drift_coef=drift_coef, prior_std=0.0)
    return GaussianSDENode(kind=kind, equation=equation, constants=constants, definitions=definitions,
                           drift_coef=drift_coef, prior_std=node.at(call("sigma"), 1.0), training_time=training_time)


class TrainingTimeOption(Section):
    """The law of an SDE's training times. Uniform t spends most of training near pure noise
    (VP: sigma > 0.95 for t > 0.3) and ~1% below the swiss roll's jitter (sigma < 0.05), which
    left its arms thick (nn_ratio 2.5); uniform in log-SNR gives every noise scale the same share
    (16% below 0.05: nn_ratio 1.3, bench/NOTES.md)."""

    training_time: Literal["log_snr", "uniform"] = Field(
        "log_snr", description="law of the training times: log_snr, uniform in log(alpha / sigma) over "
                               "[T_EPS, 1] (Song et al. 2021's importance sampling, Kingma et al. 2021), or "
                               "uniform in t")


class BetaLinearOptions(TrainingTimeOption):
    """Options of the SDEs driven by a linear noise rate beta(t)."""

    beta_min: PositiveFloat = Field(0.1, description="beta(0)")
    beta_max: PositiveFloat = Field(20.0, description="beta(1)")
    t_eps: Probability = Field(1e-3, description="smallest time used in training and sampling")

    @model_validator(mode="after")
    def _ordered(self):
        ordered(self, "beta_min", "beta_max")
        return self

    def beta_definitions(self) -> tuple[tuple[Constant, ...], list[Definition]]:
        """The constants and beta(t), int_0^t beta, alpha(t) = exp(-1/2 int beta)."""
        constants = (
            Constant("BETA_MIN", self.beta_min, "beta(0)"),
            Constant("BETA_MAX", self.beta_max, "beta(1)"),
            Constant("T_EPS", self.t_eps, "smallest time used by training and sampling"),
        )
        b0, b1 = E.var("BETA_MIN"), E.var("BETA_MAX")
        definitions = [
            Definition("beta", E.add(b0, E.mul(t, E.sub(b1, b0))),
                       "noise rate beta(t) = BETA_MIN + t (BETA_MAX - BETA_MIN)"),
            Definition("int_beta", E.add(E.mul(b0, t), E.mul(E.mul(E.num(0.5), E.sub(b1, b0)), E.pow_(t, E.num(2)))),
                       "integral of beta from 0 to t"),
            Definition("alpha", E.call("exp", E.mul(E.num(-0.5), call("int_beta"))),
                       "mean coefficient m(t) = exp(-1/2 int beta)"),
        ]
        return constants, definitions
