"""The Gaussian kernel of each forward process.

Every continuous process here has a linear drift f(x, t) = c(t) x, so x_t | x_0 is
N(alpha(t) x_0, sigma(t)^2 I) with alpha = exp(int_0^t c) and
sigma^2 = alpha^2 int_0^t g^2 / alpha^2. The closed forms below are those integrals;
tests check them against Monte-Carlo simulation of the SDE.
"""

from __future__ import annotations

import math

from .. import expr as E
from ..ir import Definition, ProcessIR
from ..spec import DiscreteProcess, SubVPProcess, VEProcess, VPProcess

t = E.var("t")


def _call(name: str) -> E.Expr:
    return E.call(name, t)


def lower_process(process) -> ProcessIR:
    if isinstance(process, (VPProcess, SubVPProcess)):
        return _lower_vp_family(process)
    if isinstance(process, VEProcess):
        return _lower_ve(process)
    if isinstance(process, DiscreteProcess):
        return _lower_discrete(process)
    raise TypeError(f"no lowering for process {process!r}")


def inline(e: E.Expr, definitions: tuple[Definition, ...]) -> E.Expr:
    """Replace calls of defined functions by their bodies (for folding constants)."""
    bodies = {d.name: d.expr for d in definitions}

    def expand(name: str):
        return lambda arg: E.replace_var(inline(bodies[name], definitions), "t", arg)

    return E.substitute(e, {name: expand(name) for name in bodies})


def _prior_std(definitions: tuple[Definition, ...]) -> float:
    return E.evaluate(inline(_call("sigma"), definitions), {"t": 1.0})


def one_minus_exp(x: E.Expr) -> E.Expr:
    """1 - exp(-x) as -expm1(-x): accurate for small t, where sigma is tiny."""
    return E.Neg(E.call("expm1", E.Neg(x)))


def _lower_vp_family(p: VPProcess | SubVPProcess) -> ProcessIR:
    b0, b1 = p.beta_min, p.beta_max
    beta = E.add(E.num(b0), E.mul(E.num(b1 - b0), t))
    int_beta = E.add(E.mul(E.num(b0), t), E.mul(E.num(0.5 * (b1 - b0)), E.pow_(t, E.num(2))))
    defs = [
        Definition("beta", beta, "noise rate beta(t) = beta_min + t (beta_max - beta_min)"),
        Definition("int_beta", int_beta, "integral of beta from 0 to t"),
        Definition("alpha", E.call("exp", E.mul(E.num(-0.5), _call("int_beta"))),
                   "mean coefficient m(t) = exp(-1/2 int beta)"),
    ]
    if p.kind == "vp":
        defs += [
            Definition("sigma", E.call("sqrt", one_minus_exp(_call("int_beta"))),
                       "std s(t) = sqrt(1 - exp(-int beta))"),
            Definition("g", E.call("sqrt", _call("beta")), "diffusion g(t) = sqrt(beta(t))"),
        ]
        equation = "dx = -1/2 beta(t) x dt + sqrt(beta(t)) dw"
    else:
        defs += [
            Definition("sigma", one_minus_exp(_call("int_beta")), "std s(t) = 1 - exp(-int beta)"),
            Definition(
                "g",
                E.call("sqrt", E.mul(_call("beta"), one_minus_exp(E.mul(E.num(2.0), _call("int_beta"))))),
                "diffusion g(t) = sqrt(beta(t) (1 - exp(-2 int beta)))",
            ),
        ]
        equation = "dx = -1/2 beta(t) x dt + sqrt(beta(t) (1 - exp(-2 int_0^t beta))) dw"
    definitions = tuple(defs)
    return ProcessIR(
        kind=p.kind,
        equation=f"{equation},  beta(t) = {E.to_text(E.fold(beta))}",
        continuous=True,
        t_eps=p.t_eps,
        definitions=definitions,
        drift_coef=E.mul(E.num(-0.5), _call("beta")),
        prior_std=_prior_std(definitions),
    )


def _lower_ve(p: VEProcess) -> ProcessIR:
    smin, smax = p.sigma_min, p.sigma_max
    noise_scale = E.mul(E.num(smin), E.pow_(E.num(smax / smin), t))
    definitions = (
        Definition("noise_scale", noise_scale, "geometric noise scale sigma_min (sigma_max / sigma_min)^t"),
        Definition("alpha", E.num(1.0), "mean coefficient m(t) = 1"),
        # x_t = x_0 + int_0^t g dw has variance noise_scale(t)^2 - sigma_min^2, exactly
        Definition(
            "sigma",
            E.call("sqrt", E.sub(E.pow_(_call("noise_scale"), E.num(2.0)), E.num(smin**2))),
            "std s(t) = sqrt(noise_scale(t)^2 - sigma_min^2)",
        ),
        Definition(
            "g",
            E.mul(_call("noise_scale"), E.num(math.sqrt(2.0 * math.log(smax / smin)))),
            "diffusion g(t) = noise_scale(t) sqrt(2 log(sigma_max / sigma_min))",
        ),
    )
    return ProcessIR(
        kind="ve",
        equation=f"dx = sqrt(d[noise_scale(t)^2]/dt) dw,  noise_scale(t) = {smin:g} * ({smax:g}/{smin:g})^t",
        continuous=True,
        t_eps=p.t_eps,
        definitions=definitions,
        drift_coef=E.num(0.0),
        prior_std=_prior_std(definitions),
    )


def _lower_discrete(p: DiscreteProcess) -> ProcessIR:
    i, n = E.var("i"), float(p.timesteps)
    if p.schedule == "linear":
        betas = E.add(E.num(p.beta_start), E.mul(E.num((p.beta_end - p.beta_start) / (n - 1)), E.sub(i, E.num(1.0))))
        return ProcessIR(
            kind="discrete",
            equation="x_i = sqrt(1 - beta_i) x_{i-1} + sqrt(beta_i) z,  beta_i linear from "
            f"{p.beta_start:g} to {p.beta_end:g}",
            continuous=False,
            timesteps=p.timesteps,
            schedule="linear",
            betas=betas,
        )
    # cosine (Nichol & Dhariwal 2021): alpha_bar(i) = f(i) / f(0), f(i) = cos^2((i/N + s)/(1 + s) pi/2)
    angle = E.mul(E.div(E.add(E.div(i, E.num(n)), E.num(p.s)), E.num(1.0 + p.s)), E.num(math.pi / 2))
    f0 = math.cos(p.s / (1.0 + p.s) * math.pi / 2) ** 2
    alpha_bar = E.div(E.pow_(E.call("cos", angle), E.num(2.0)), E.num(f0))
    return ProcessIR(
        kind="discrete",
        equation="x_i = sqrt(1 - beta_i) x_{i-1} + sqrt(beta_i) z,  alpha_bar_i = f(i) / f(0) (cosine)",
        continuous=False,
        timesteps=p.timesteps,
        schedule="cosine",
        alpha_bar=alpha_bar,
    )
