"""The existing continuous and discrete samplers on the new processes and parameterizations, judged
with the exact model (network: analytic) as in test_oracle_sampling.py: SW1 to fresh true
samples within 2 x the noise floor, mode shares within 0.02 total variation.

edm: the exact denoiser through EDM's preconditioning (edm) and the noise (eps); flow: the exact
velocity (velocity) with the probability-flow ODE and the reverse SDE, whose drift and diffusion
blow up at t = 1 (the grid starts at 1 - T_EPS); a zero-terminal-SNR chain with v and x0.
"""

from __future__ import annotations

import pytest

import test_oracle_sampling
from test_oracle_sampling import noise_floor  # noqa: F401  (the fixture)
from test_oracle_sampling import test_sampler_reaches_noise_floor as reaches_noise_floor

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
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_sampler_reaches_noise_floor(case, noise_floor, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setitem(test_oracle_sampling.CASES, case, CASES[case])  # the same check, on these cases
    reaches_noise_floor(case, noise_floor, tmp_path)
