"""The existing continuous and discrete samplers on the new processes and parameterizations, judged
with the exact model (network: analytic) as in test_oracle_sampling.py: SW1 to fresh true
samples within 2 x the noise floor, mode shares within 0.02 total variation.

edm: the exact denoiser through EDM's preconditioning (edm) and the noise (eps); flow: the exact
velocity (velocity) with the probability-flow ODE and the reverse SDE, whose drift and diffusion
blow up at t = 1 (the grid starts at 1 - T_EPS); a zero-terminal-SNR chain with v and x0.

The few-step samplers (dpm_solver ode and sde, unipc, edm with and without churn, ipndm, ode dopri5)
walk both new processes through alpha, sigma and the log-SNR alone; each case drives them with another
parameterization of the exact model (x0, v, edm, velocity, eps), so that every one of them meets every
new process. With the exact model all five give the same samples to rounding (every parameterization
converts the same exact denoiser; test_parameterizations.py checks the conversions in closed form).
Grids: the samplers' defaults (logsnr, karras), quadratic and uniform; on flow they start at
1 - T_EPS, where prior_sample draws (test_grids_start_where_the_prior_is_drawn).
"""

from __future__ import annotations

import math

import pytest
import torch

import test_oracle_sampling
from emitted import build, compile_text
from test_oracle_sampling import noise_floor  # noqa: F401  (the fixture)
from test_oracle_sampling import test_sampler_reaches_noise_floor as reaches_noise_floor

SPEC = """
scorec: 1
name: grids
data: {{source: gmm, means: [[-2.0, 0.0], [2.0, 0.0]], std: 0.3}}
process: {process}
model: {{parameterization: eps, network: {{kind: analytic}}}}
sample: {sample}
"""
CASES = {
    "edm-ode-heun-edm": ("{kind: edm}", "{sampler: ode, method: heun, steps: 100}", "edm"),
    "edm-em-eps": ("{kind: edm}", "{sampler: em, steps: 500}", "eps"),
    "flow-ode-heun-velocity": ("{kind: flow}", "{sampler: ode, method: heun, steps: 100}", "velocity"),
    "flow-em-velocity": ("{kind: flow}", "{sampler: em, steps: 500}", "velocity"),
    "flow-ode-rk4-x0": ("{kind: flow}", "{sampler: ode, method: rk4, steps: 50}", "x0"),
    "zero-snr-ancestral-v": ("{kind: discrete, zero_terminal_snr: true}", "{sampler: ancestral, steps: 1000}", "v"),
    # DDIM takes x_0 and eps from one evaluation (x0_and_eps): finite at alpha_bar_N = 0, which 1000 steps visit
    "zero-snr-ddim-v": ("{kind: discrete, zero_terminal_snr: true}", "{sampler: ddim, steps: 1000, eta: 0.0}", "v"),
    "zero-snr-cosine-ancestral-x0": ("{kind: discrete, schedule: cosine, zero_terminal_snr: true}",
                                     "{sampler: ancestral, steps: 500}", "x0"),
    # few-step samplers on edm and flow, a parameterization each (SDE-DPM-Solver++ is first order in its
    # noise: 200 steps; the others at 30-40 steps converge, SW1 0.9-1.3 x the floor)
    "edm-dpm-solver-3m-x0": ("{kind: edm}", "{sampler: dpm_solver, order: 3, steps: 40}", "x0"),
    "edm-dpm-solver-sde-v": ("{kind: edm}", "{sampler: dpm_solver, variant: sde, steps: 200}", "v"),
    "edm-unipc-3-edm": ("{kind: edm}", "{sampler: unipc, order: 3, steps: 40}", "edm"),
    "edm-edm-velocity": ("{kind: edm}", "{sampler: edm, steps: 30}", "velocity"),
    "edm-edm-churn-edm": ("{kind: edm}", "{sampler: edm, steps: 40, churn: 30.0, s_tmin: 0.05, s_tmax: 10.0}", "edm"),
    "edm-ipndm-quadratic-eps": ("{kind: edm}", "{sampler: ipndm, steps: 40, grid: {kind: quadratic}}", "eps"),
    "flow-dpm-solver-3m-velocity": ("{kind: flow}", "{sampler: dpm_solver, order: 3, steps: 40}", "velocity"),
    "flow-dpm-solver-sde-x0": ("{kind: flow}", "{sampler: dpm_solver, variant: sde, steps: 200}", "x0"),
    "flow-unipc-2-uniform-v": ("{kind: flow}", "{sampler: unipc, steps: 40, grid: {kind: uniform}}", "v"),
    "flow-edm-edm": ("{kind: flow}", "{sampler: edm, steps: 30}", "edm"),
    "flow-ipndm-eps": ("{kind: flow}", "{sampler: ipndm, steps: 40}", "eps"),
    "flow-ode-dopri5-velocity": ("{kind: flow}", "{sampler: ode, method: dopri5, rtol: 1.0e-4, atol: 1.0e-4}",
                                 "velocity"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_sampler_reaches_noise_floor(case, noise_floor, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setitem(test_oracle_sampling.CASES, case, CASES[case])  # the same check, on these cases
    reaches_noise_floor(case, noise_floor, tmp_path)


@pytest.mark.parametrize("grid", ["uniform", "karras", "logsnr", "quadratic"])
def test_grids_start_where_the_prior_is_drawn(grid, tmp_path):
    """flow's alpha(1) = 0 (lambda = -inf): every grid starts at 1 - T_EPS, where prior_sample draws, at a
    finite log-SNR log(T_EPS / (1 - T_EPS)), and ends at the data; none starts past it (1 or a lambda floor)."""
    sample = f"{{sampler: dpm_solver, steps: 8, grid: {{kind: {grid}}}}}"
    text = SPEC.format(process="{kind: flow, t_eps: 0.002}", sample=sample)
    s = build(compile_text(text), tmp_path).sample
    ts = s.sample_grid(8, torch.device("cpu"))
    assert ts.dtype == torch.float64 and len(ts) == 9
    assert abs(float(ts[0]) - 0.998) < 1e-7 and float(ts[-1]) == 0.0
    assert (ts[1:] < ts[:-1]).all()
    assert abs(float(s.log_snr(ts[:1])) - math.log(0.002 / 0.998)) < 1e-4  # time_grid's float32 end: 1.3e-5


def test_karras_on_edm_is_the_process_grid(tmp_path):
    """Process edm's sigma(t) is already Karras et al.'s rho schedule, so its uniform grid in t is their
    grid; the samplers' karras grid (rho 7, in sigma/alpha = sigma) lands on the same levels, once, not a
    rho schedule of a rho schedule: sigma_k = (80^(1/7) + k/(n-1) (0.002^(1/7) - 80^(1/7)))^7."""
    levels = {}
    for grid in ("uniform", "karras"):
        text = SPEC.format(process="{kind: edm}", sample=f"{{sampler: edm, steps: 12, grid: {{kind: {grid}}}}}")
        s = build(compile_text(text), tmp_path / grid).sample
        levels[grid] = s.sample_grid(12, torch.device("cpu"))
        sigmas = s.kernel_at(levels[grid][:-1])[1]
        ramp = torch.linspace(0, 1, 12, dtype=torch.float64)
        expected = (80 ** (1 / 7) + ramp * (0.002 ** (1 / 7) - 80 ** (1 / 7))) ** 7
        assert torch.allclose(sigmas, expected, rtol=1e-6), grid
    assert torch.allclose(levels["uniform"], levels["karras"], atol=1e-7)


@pytest.mark.parametrize("process, sampler, grid", [
    ("{kind: flow}", "dpm_solver", "logsnr"), ("{kind: flow}", "unipc", "logsnr"), ("{kind: flow}", "ipndm", "uniform"),
    ("{kind: flow}", "edm", "karras"), ("{kind: edm}", "dpm_solver", "logsnr"), ("{kind: edm}", "ipndm", "karras"),
    ("{kind: discrete}", "unipc", "linspace"),
])
def test_default_grid_per_process(process, sampler, grid):
    """The grid a spec gets when it names none (bench/NOTES.md: bench_few_step.py --grids): a discrete
    chain's own timesteps, else the sampler's (logsnr; karras for edm; ipndm karras, uniform in t on flow)."""
    ir = compile_text(SPEC.format(process=process, sample=f"{{sampler: {sampler}, steps: 8}}"))
    assert ir.sampler.time_grid.kind == grid
