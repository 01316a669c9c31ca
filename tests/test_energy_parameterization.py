"""The energy parameterization: score = -grad_x E by autograd.

With the exact GMM energy (network: analytic), every sampler must give the same samples
as with the exact score itself (same seed, same noise): the autograd gradient of the
float64 log-density equals the closed-form score up to float32 rounding.
"""

from __future__ import annotations

import numpy as np
import pytest

from emitted import build, compile_text

SPEC = """
scorec: 1
name: energy-oracle
seed: 3
data: {{source: gmm, weights: [0.6, 0.3, 0.1], means: [[-2.0, 0.0], [2.0, 0.0], [0.0, 2.5]], std: 0.3}}
process: {process}
model: {{parameterization: {param}, network: {{kind: analytic}}}}
sample: {sample}
"""

VP = "{kind: vp, beta_min: 0.1, beta_max: 20.0}"
VE = "{kind: ve, sigma_min: 0.01, sigma_max: 20.0}"
LINEAR = "{kind: discrete, schedule: linear, timesteps: 1000}"
CASES = {
    "vp-em": (VP, "{sampler: em, steps: 200, n: 1000}"),
    "vp-pc": (VP, "{sampler: pc, steps: 100, n: 1000, corrector: {kind: langevin, snr: 0.16}}"),
    "ve-ode-heun": (VE, "{sampler: ode, method: heun, steps: 100, n: 1000}"),
    "vp-langevin": (VP, "{sampler: langevin, steps: 200, step_size: 0.002, n: 1000}"),
    "linear-ancestral": (LINEAR, "{sampler: ancestral, steps: 100, n: 1000}"),
    "linear-ddim": (LINEAR, "{sampler: ddim, steps: 50, eta: 0.5, n: 1000}"),
}


def samples_of(process, sample, param, tmp_path):
    out = tmp_path / param
    programs = build(compile_text(SPEC.format(process=process, sample=sample, param=param)), out)
    programs.sample.main(["--out", str(out), "--device", "cpu"])
    return np.load(out / "samples.npz")


@pytest.mark.parametrize("case", sorted(CASES))
def test_exact_energy_samples_like_the_exact_score(case, tmp_path):
    process, sample = CASES[case]
    by_score = samples_of(process, sample, "score", tmp_path)
    by_energy = samples_of(process, sample, "energy", tmp_path)
    assert int(by_energy["nfe"]) == int(by_score["nfe"])
    x, y = by_energy["samples"], by_score["samples"]
    assert np.isfinite(x).all()
    # float32 rounding of two ways to the same score, carried through the chain
    assert np.abs(x - y).max() < 1e-3, f"{case}: max |energy - score| = {np.abs(x - y).max():.2e}"


TRAIN_SPEC = """
scorec: 1
name: energy-dsm
seed: 0
data: {source: gmm, weights: [0.6, 0.3, 0.1], means: [[-2.0, 0.0], [2.0, 0.0], [0.0, 2.5]], std: 0.3, n: 10000}
process: {kind: vp}
model: {parameterization: energy, network: {kind: mlp, hidden: [64, 64, 64]}}
objective: {kind: dsm, weighting: sigma2}
train: {steps: STEPS, batch_size: 256, lr: 2.0e-3, ema: 0.99, compile: false, log_every: 100, checkpoint_every: 500}
sample: {sampler: ode, method: heun, steps: 50, n: 2000, batch_size: 2000}
"""


def test_energy_trained_by_dsm_learns_mode_weights(tmp_path):
    """dsm trains E through its gradient (create_graph): mode-share TV <= 0.05 after a short run
    (n = 2000 samples: the shares' own noise is about 0.015 in TV)."""
    from scorec.metrics import mode_shares, total_variation

    means = np.array([[-2.0, 0.0], [2.0, 0.0], [0.0, 2.5]])
    programs = build(compile_text(TRAIN_SPEC.replace("STEPS", "1500")), tmp_path)
    programs.train.main(["--out", str(tmp_path), "--device", "cpu"])
    programs.sample.main(["--out", str(tmp_path), "--device", "cpu"])
    x = np.load(tmp_path / "samples.npz")["samples"]
    tv = total_variation(mode_shares(x, means), np.array([0.6, 0.3, 0.1]))
    print(f"energy + dsm: mode-share TV {tv:.4f}")
    assert tv <= 0.05, f"mode-share TV {tv:.3f}"
