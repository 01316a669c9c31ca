"""Unadjusted Langevin dynamics against its closed form, with the exact score.

For a Gaussian target N(m, s^2 I), x <- x + eps score(x) + sqrt(2 eps) z is the linear
recursion x <- (1 - eps/s^2) x + (eps/s^2) m + sqrt(2 eps) z, whose stationary law is
N(m, v I) with v = s^2 / (1 - eps / (2 s^2)): the step-size bias of the unadjusted chain.
The target here is p_t at t = T_EPS of one Gaussian component pushed through VP, so
s^2 = alpha^2 std^2 + sigma^2 there.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from emitted import build, compile_text

STD, MEAN = 0.5, 1.0
N = 20000

SPEC = f"""
scorec: 1
name: langevin-gaussian
seed: 5
data: {{source: gmm, means: [[{MEAN}, {-MEAN}]], std: {STD}}}
process: {{kind: vp, beta_min: 0.1, beta_max: 20.0, t_eps: 1.0e-3}}
model: {{network: {{kind: analytic}}}}
sample: {{sampler: langevin, steps: 300, step_size: STEP, n: {N}, denoise: false}}
"""


@pytest.mark.parametrize("step", [0.02, 0.2])
def test_stationary_variance_has_the_known_step_size_bias(step, tmp_path):
    programs = build(compile_text(SPEC.replace("STEP", str(step))), tmp_path)
    programs.sample.main(["--out", str(tmp_path), "--device", "cpu"])
    x = np.load(tmp_path / "samples.npz")["samples"].astype(np.float64)

    common = programs.common
    import torch

    t = torch.tensor([common.T_EPS], dtype=torch.float64)
    a, s = float(common.alpha(t)), float(common.sigma(t))
    target_var = a**2 * STD**2 + s**2
    biased_var = target_var / (1 - step / (2 * target_var))

    var = x.var(axis=0, ddof=1)  # per coordinate, independent
    se = biased_var * math.sqrt(2 / (N - 1))  # standard error of a Gaussian sample variance
    assert np.all(np.abs(var - biased_var) < 4 * se), (var, biased_var, target_var)
    assert np.all(np.abs(x.mean(axis=0) - a * np.array([MEAN, -MEAN])) < 4 * math.sqrt(biased_var / N))
    if step == 0.2:  # the bias is far outside the noise: the chain really is unadjusted
        assert np.all(var - target_var > 10 * se)
