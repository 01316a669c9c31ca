"""MALA and random-walk Metropolis-Hastings on the exact energy of the data density (process none).

* On a 2-D mixture with uneven weights whose modes overlap enough for a chain to move
  between them, both reach SW1 <= 2 x the noise floor (the mean SW1 between independent
  true sample sets of the same size) and mode-share TV <= 0.02 against true samples' own
  shares (n = 10000: the shares' noise is about 0.005).
* On a Gaussian target MALA has no step-size bias: at eps = 0.2, where unadjusted
  Langevin's stationary variance is s^2 / (1 - eps / (2 s^2)) = 1.67 s^2, MALA's is s^2.
* Both report their acceptance rate (samples.npz stat_acceptance -> metrics.json).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from emitted import build, compile_text
from scorec.metrics import mode_shares, sliced_wasserstein, total_variation

WEIGHTS = [0.6, 0.3, 0.1]
MEANS = [[-1.0, 0.0], [1.0, 0.0], [0.0, 1.5]]
STD = 0.6
N = 10000
SPEC = """
scorec: 1
name: metropolis
seed: 4
data: {{source: gmm, weights: {weights}, means: {means}, std: {std}}}
process: {{kind: none}}
model: {{parameterization: energy, network: {{kind: analytic}}}}
sample: {sample}
"""
CASES = {
    "mala": "{sampler: mala, steps: 150, step_size: 0.15, n: 10000, denoise: false}",
    "mh": "{sampler: mh, steps: 300, proposal_std: 0.7, n: 10000, denoise: false}",
}


def true_samples(n, seed, means=MEANS, weights=WEIGHTS, std=STD):
    rng = np.random.default_rng(seed)
    k = rng.choice(len(weights), size=n, p=weights)
    return np.asarray(means)[k] + std * rng.standard_normal((n, 2))


def run(text, tmp_path):
    programs = build(compile_text(text), tmp_path)
    programs.sample.main(["--out", str(tmp_path), "--device", "cpu"])
    return np.load(tmp_path / "samples.npz")


@pytest.mark.parametrize("case", sorted(CASES))
def test_metropolis_samplers_reach_the_noise_floor(case, tmp_path):
    out = run(SPEC.format(weights=WEIGHTS, means=MEANS, std=STD, sample=CASES[case]), tmp_path)
    x = out["samples"]
    floor = np.mean([sliced_wasserstein(true_samples(N, 10 + 2 * i), true_samples(N, 11 + 2 * i), seed=7)
                     for i in range(3)])
    truth = true_samples(N, 1)
    sw = sliced_wasserstein(x, truth, seed=7)
    tv = total_variation(mode_shares(x, np.asarray(MEANS)), mode_shares(truth, np.asarray(MEANS)))
    acceptance = float(out["stat_acceptance"])
    print(f"{case}: SW1 {sw:.4f} (floor {floor:.4f}), mode TV {tv:.4f}, acceptance {acceptance:.3f}")
    assert sw <= 2 * floor, f"{case}: SW1 {sw:.4f} > 2 x floor {floor:.4f}"
    assert tv <= 0.02, f"{case}: mode-share TV {tv:.4f}"
    assert 0.2 < acceptance < 1.0


def test_mala_removes_the_langevin_step_size_bias(tmp_path):
    std, step, n = 0.5, 0.2, 10000
    spec = SPEC.format(weights=[1.0], means=[[1.0, -1.0]], std=std, sample="SAMPLE")
    results = {}
    for sampler in ("langevin", "mala"):
        sample = f"{{sampler: {sampler}, steps: 150, step_size: {step}, n: {n}, denoise: false}}"
        results[sampler] = run(spec.replace("SAMPLE", sample), tmp_path / sampler)["samples"].astype(np.float64)
    target = std**2
    se = target * math.sqrt(2 / (n - 1)) / (1 - step / (2 * target))
    mala_var, langevin_var = results["mala"].var(axis=0, ddof=1), results["langevin"].var(axis=0, ddof=1)
    print(f"variance: target {target}, langevin {langevin_var}, mala {mala_var}")
    assert np.all(np.abs(langevin_var - target / (1 - step / (2 * target))) < 4 * se)
    assert np.all(np.abs(mala_var - target) < 6 * se), (mala_var, target)
