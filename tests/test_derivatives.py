"""alpha'(t) and sigma'(t) derived in closed form (process/derivatives.py), against central finite
differences of the process's own functions.

Central differences with h = 1e-5 in float64 have error O(h^2 f''') + O(1e-16 / h), about 1e-9
relative for these smooth kernels: the tolerance 1e-6 leaves room for the steeper ones (ve). A
tabulated kernel (no closed form) is itself a cubic Hermite interpolant of its table (128
intervals): its slope differs from the exact derivative by a few 1e-6, so there 2e-5.
"""

from __future__ import annotations

import dataclasses
import math

import pytest

from emitted import compile_text
from scorec.core import expr as E
from scorec.core.derivatives import diff, kernel_derivatives, tidy
from scorec.core.expr_parser import parse_expr

t = E.var("t")
H = 1e-5
SPEC = """
scorec: 1
name: derivatives
data: {{source: gmm, means: [[0.0]], std: 0.1}}
process: {process}
model: {{parameterization: velocity, network: {{kind: analytic}}}}
sample: {{sampler: em}}
"""
PROCESSES = {
    "vp": "{kind: vp}",
    "subvp": "{kind: subvp}",
    "ve": "{kind: ve, sigma_min: 0.01, sigma_max: 10.0}",
    "edm": "{kind: edm}",
    "flow": "{kind: flow}",
    "sde-closed": '{kind: sde, equation: "dx = -0.5 * beta(t) * x dt + sqrt(beta(t)) dw", where: {beta: "0.1 + 19.9 * t"}}',
    # no closed form: tabulated kernel, derivatives from the SDE's relations
    "sde-tables": ('{kind: sde, equation: "dx = -0.5 * beta(t) * x dt + sqrt(beta(t)) * (1 + 0.5 * sin(7 * t)) dw",'
                   ' where: {beta: "0.1 + 19.9 * t**2 + sin(3 * t)"}}'),
    "sde-shifted": ('{kind: sde, equation: "dx = (-0.5 * beta(t) * x + beta(t)) dt + sqrt(beta(t)) dw",'
                    ' where: {beta: "0.1 + 19.9 * t"}}'),
}


@pytest.mark.parametrize("kind", sorted(PROCESSES))
def test_kernel_derivatives_match_finite_differences(kind):
    ir = compile_text(SPEC.format(process=PROCESSES[kind]))
    process, param = ir.process, ir.parameterization
    with_rates = dataclasses.replace(process, definitions=process.definitions + param.derivatives)
    names = ["alpha", "sigma"] + (["mean_shift"] if param.d_mean_shift else [])
    for name in names:
        rate = {"alpha": param.d_alpha, "sigma": param.d_sigma, "mean_shift": param.d_mean_shift}[name]
        for time in (0.05, 0.3, 0.6, 0.9):
            f = lambda u: with_rates.at(E.call(name, t), u)  # noqa: E731
            numeric = (f(time + H) - f(time - H)) / (2 * H)
            exact = with_rates.at(E.call(rate, t), time)
            scale = max(abs(numeric), 1e-3 * max(abs(f(time)), 1.0))
            assert abs(exact - numeric) <= (2e-5 if "tables" in kind else 1e-6) * scale, f"{kind}: {rate}({time}) = {exact} vs {numeric}"


def test_tables_fall_back_to_the_sde_relations():
    ir = compile_text(SPEC.format(process=PROCESSES["sde-tables"]))
    docs = {d.name: d.doc for d in ir.parameterization.derivatives}
    assert "from the SDE" in docs["d_sigma"] and "from the SDE" in docs["d_alpha"]


def test_derivatives_follow_the_chain_rule_through_helpers():
    ir = compile_text(SPEC.format(process=PROCESSES["vp"]))
    names = [d.name for d in ir.parameterization.derivatives]
    assert names == ["d_int_beta", "d_alpha", "d_sigma"]  # the helper first: dependency order
    assert E.to_text(ir.parameterization.derivatives[0].expr) == "BETA_MIN + 0.5 * (BETA_MAX - BETA_MIN) * (2 * t)"


@pytest.mark.parametrize("text", ["sqrt(1 + t)", "exp(-2 * t) * log(1 + t)", "log1p(t**2)", "expm1(3 * t)",
                                  "sin(t) / cos(t)", "tan(t) + tanh(2 * t)", "sigmoid(5 * t - 1)", "abs(t - 2)",
                                  "t ** t", "2 ** t", "(1 + t) ** 3.5", "-t / (1 - t)"])
def test_elementary_derivatives(text):
    e = parse_expr(text, None, variables=("t",), functions=set(E.ELEMENTARY))
    d = tidy(diff(e, {}))
    for time in (0.2, 0.55, 0.8):
        numeric = (E.evaluate(e, {"t": time + H}) - E.evaluate(e, {"t": time - H})) / (2 * H)
        assert math.isclose(E.evaluate(d, {"t": time}), numeric, rel_tol=1e-7, abs_tol=1e-9), text


def test_a_helper_named_like_a_derivative_moves_the_prefix():
    process = ('{kind: sde, equation: "dx = -0.5 * d_rate(t) * x dt + sqrt(d_rate(t)) dw",'
               ' where: {d_rate: "0.1 + 19.9 * t"}}')
    param = compile_text(SPEC.format(process=process)).parameterization
    assert param.d_alpha == "dt_alpha" and param.d_sigma == "dt_sigma"
    assert kernel_derivatives(compile_text(SPEC.format(process=process)).process, ("alpha",))[1] == "dt_"
