"""The `sde` kernel of polynomial rates, derived without sympy (process/_polynomial_kernel.py):
the same kernel as sympy's derivation, to 1e-12, and sympy is never imported for it."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from emitted import EXAMPLES, REPO, compile_text
from scorec.components.process import _sde_kernel
from scorec.components.process._polynomial_kernel import polynomial_kernel
from scorec.core import expr as E
from scorec.core.expr_parser import parse_expr

BASE = """
scorec: 1
name: kernel
data: {{source: gmm, means: [[0.0]], std: 0.1}}
process: {{kind: sde, equation: "{equation}", where: {{beta: "{beta}"}}}}
model: {{network: {{kind: analytic}}}}
sample: {{sampler: em}}
"""
LINEAR, QUADRATIC = "0.1 + 19.9 * t", "0.1 + 19.9 * t**2 - 3 * t**3 / 4"
POLYNOMIAL = {  # name: (equation, beta)
    "vp": ("dx = -0.5 * beta(t) * x dt + sqrt(beta(t)) dw", LINEAR),
    "vp-quadratic": ("dx = -0.5 * beta(t) * x dt + sqrt(beta(t)) dw", QUADRATIC),
    "vp-scaled-noise": ("dx = -0.5 * beta(t) * x dt + 3 * sqrt(beta(t)) dw", LINEAR),
    "shifted": ("dx = (-0.5 * beta(t) * x + beta(t)) dt + sqrt(beta(t)) dw", LINEAR),
    "ou": ("dx = -x dt + sqrt(2) dw", LINEAR),
    "no-drift": ("dx = 2 * sqrt(beta(t)) dw", LINEAR),
    "drift-only-offset": ("dx = (1 + t) dt + dw", LINEAR),
}
LEFT_TO_SYMPY = {  # closed forms that are not of the polynomial kinds
    "noise-not-proportional": ("dx = -x dt + sqrt(1 + t) dw", LINEAR),
    "exponential-rate": ("dx = -exp(t) * x dt + sqrt(2 * exp(t)) dw", LINEAR),
    "sin-rate": ("dx = -0.5 * beta(t) * x dt + sqrt(beta(t)) dw", "1 + sin(t)"),
}


def spec(equation: str, beta: str) -> str:
    return BASE.format(equation=equation, beta=beta)


@pytest.fixture
def no_cache(monkeypatch):
    monkeypatch.setenv("SCOREC_KERNEL_CACHE", "off")


@pytest.mark.parametrize("name", sorted(POLYNOMIAL))
def test_same_kernel_as_sympy(name, no_cache, monkeypatch):
    text = spec(*POLYNOMIAL[name])
    fast = compile_text(text)
    monkeypatch.setattr(_sde_kernel, "polynomial_kernel", lambda *args: None)
    slow = compile_text(text)
    assert not fast.process.tables and not slow.process.tables
    for function in ("alpha", "sigma") + (("mean_shift",) if fast.process.mean_shift else ()):
        for time in np.linspace(0.0, 1.0, 21):
            got = fast.process.at(E.call(function, E.var("t")), time)
            want = slow.process.at(E.call(function, E.var("t")), time)
            assert got == pytest.approx(want, rel=1e-12, abs=1e-15), f"{name}: {function}({time})"


def _parsed(text: str) -> E.Expr:
    return parse_expr(text, variables=("t",), functions=set(E.ELEMENTARY))


def test_polynomial_forms_directly():
    # VP, beta = 0.1 + 19.9 t: log m = -(4.975 t^2) - 0.05 t; s^2 = -expm1(2 log m)
    a = _parsed("-0.5 * (0.1 + 19.9 * t)")
    log_m, var, mu = polynomial_kernel(a, E.num(0.0), _parsed("sqrt(0.1 + 19.9 * t)"), False)
    assert E.to_text(log_m) == "-(4.975 * t ** 2) - 0.05 * t" and mu is None
    assert E.to_text(var) == "-expm1(-(9.95 * t ** 2) - 0.1 * t)"
    # no drift, g = 2 sqrt(t), b = 1 + t: s^2 = 2 t^2, mu = t + t^2 / 2
    _, var, mu = polynomial_kernel(E.num(0.0), _parsed("1 + t"), _parsed("2 * sqrt(t)"), True)
    assert E.to_text(var) == "2 * t ** 2" and E.to_text(mu) == "0.5 * t ** 2 + t"


@pytest.mark.parametrize("name", sorted(LEFT_TO_SYMPY))
def test_other_rates_are_left_to_sympy(name):
    equation, beta = LEFT_TO_SYMPY[name]
    a_text = {"noise-not-proportional": "-1", "exponential-rate": "-exp(t)", "sin-rate": "-0.5 * (1 + sin(t))"}[name]
    g_text = {"noise-not-proportional": "sqrt(1 + t)", "exponential-rate": "sqrt(2 * exp(t))",
              "sin-rate": "sqrt(1 + sin(t))"}[name]
    assert polynomial_kernel(_parsed(a_text), E.num(0.0), _parsed(g_text), False) is None
    ir = compile_text(spec(equation, beta))
    assert ir.process.prior_std > 0  # and sympy (or the tables) still gives a kernel


def test_a_cold_check_of_the_polynomial_example_imports_no_sympy():
    code = ("import sys; from scorec.pipeline import compile_spec; compile_spec(sys.argv[1]); "
            "print('sympy' in sys.modules)")
    env = {"SCOREC_KERNEL_CACHE": "off", "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code, str(EXAMPLES / "gmm_sde_shifted_analytic_pc.yaml")],
                         capture_output=True, text=True, cwd=REPO, env=env, check=True).stdout.strip()
    assert out == "False"
