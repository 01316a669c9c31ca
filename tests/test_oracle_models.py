"""The existing continuous and discrete samplers on the new processes and parameterizations, judged
with the exact model (network: analytic) as in test_oracle_sampling.py: SW1 to fresh true
samples within 2 x the noise floor, mode shares within 0.02 total variation.

edm: the exact denoiser through EDM's preconditioning (edm) and the noise (eps); flow: the exact
velocity (velocity) with the probability-flow ODE and the reverse SDE, whose drift and diffusion
blow up at t = 1 (the grid starts at 1 - T_EPS); a zero-terminal-SNR chain with v and x0.
"""

from __future__ import annotations

import numpy as np
import pytest

from emitted import build, compile_text
from scorec.metrics import mode_shares, sliced_wasserstein, total_variation
from test_oracle_sampling import MEANS, N, SPEC, STD, WEIGHTS, noise_floor, true_samples  # noqa: F401

CASES = {
    "edm-ode-heun-edm": ("{kind: edm}", "{sampler: ode, method: heun, steps: 100}", "edm"),
    "edm-em-eps": ("{kind: edm}", "{sampler: em, steps: 500}", "eps"),
    "flow-ode-heun-velocity": ("{kind: flow}", "{sampler: ode, method: heun, steps: 100}", "velocity"),
    "flow-em-velocity": ("{kind: flow}", "{sampler: em, steps: 500}", "velocity"),
    "flow-ode-rk4-x0": ("{kind: flow}", "{sampler: ode, method: rk4, steps: 50}", "x0"),
    "zero-snr-ancestral-v": ("{kind: discrete, zero_terminal_snr: true}", "{sampler: ancestral, steps: 1000}", "v"),
    "zero-snr-cosine-ancestral-x0": ("{kind: discrete, schedule: cosine, zero_terminal_snr: true}",
                                     "{sampler: ancestral, steps: 500}", "x0"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_sampler_reaches_noise_floor(case, noise_floor, tmp_path):  # noqa: F811
    process, sample, param = CASES[case]
    sample = sample[:-1] + f", n: {N}, batch_size: {N}}}"
    text = SPEC.format(weights=WEIGHTS, means=MEANS, std=STD, process=process, param=param, sample=sample)
    programs = build(compile_text(text), tmp_path)
    programs.sample.main(["--out", str(tmp_path), "--device", "cpu"])
    x = np.load(tmp_path / "samples.npz")["samples"]
    assert x.shape == (N, 2) and np.isfinite(x).all()
    sw = sliced_wasserstein(x, true_samples(N, 1), seed=7)
    tv = total_variation(mode_shares(x, np.asarray(MEANS)), np.asarray(WEIGHTS))
    assert sw <= 2 * noise_floor, f"{case}: SW1 {sw:.4f} > 2 x floor {noise_floor:.4f}"
    assert tv <= 0.02, f"{case}: mode-share TV {tv:.4f}"
