"""Energy-based models trained by sliced score matching, judged by the mode shares of their samples.

Each test trains a small MLP energy on a 2-D Gaussian mixture with uneven weights, samples
it with the emitted sampler and compares the share of samples nearest each mixture mean with
the same shares of the true mixture (reference_data: where modes overlap, nearest-mean
shares differ a little from the weights). Budget: about 30 s each on one core.
"""

from __future__ import annotations

import json

import numpy as np

from emitted import build, compile_text

# Modes 2.0 apart at std 0.5 overlap enough that MCMC on the data density mixes between them
# in a few hundred steps (with the exact energy, MALA reaches a share TV below 0.01).
MEANS = [[-1.2, 0.0], [1.2, 0.0], [0.0, 1.6]]
WEIGHTS = [0.5, 0.3, 0.2]
NONE_SPEC = f"""
scorec: 1
name: ebm-ssm
seed: 0
data: {{source: gmm, weights: {WEIGHTS}, means: {MEANS}, std: 0.5, n: 10000}}
process: {{kind: none}}
model: {{parameterization: energy, network: {{kind: mlp, hidden: [64, 64]}}}}
objective: {{kind: ssm}}
train: {{steps: 1500, batch_size: 256, lr: 2.0e-3, ema: 0.99, compile: false, log_every: 100, checkpoint_every: 1500}}
sample: {{sampler: mala, steps: 1000, step_size: 0.02, n: 4000, batch_size: 4000}}
"""


def share_tv(programs, out, means=MEANS):
    """Mode-share TV between the run's samples and the true mixture (20000 reference points)."""
    from scorec.metrics import mode_shares, total_variation

    means = np.array(means)
    x = np.load(out / "samples.npz")["samples"]
    truth = mode_shares(np.asarray(programs.common.reference_data(20000, 1)), means)
    shares = mode_shares(x, means)
    print(f"shares {np.round(shares, 4)} vs true {np.round(truth, 4)}")
    return total_variation(shares, truth)


def test_energy_trained_by_ssm_on_the_data_density_learns_mode_weights(tmp_path):
    """EBM (process none) by ssm, sampled by MALA from the data's moments: TV <= 0.05 (4000
    samples: the shares' own noise is about 0.01 in TV; this run gives about 0.015)."""
    programs = build(compile_text(NONE_SPEC), tmp_path)
    programs.train.main(["--out", str(tmp_path), "--device", "cpu"])
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    losses = [e["loss"] for e in events if e["event"] == "train"]
    assert np.all(np.isfinite(losses)) and np.mean(losses[-3:]) < np.mean(losses[:2]), losses
    programs.sample.main(["--out", str(tmp_path), "--device", "cpu"])
    tv = share_tv(programs, tmp_path)
    assert tv <= 0.05, f"mode-share TV {tv:.3f}"


# Far modes (5 apart at std 0.4): plain MCMC on the data density cannot move between them
# (tests/test_sampler_annealed.py), annealed Langevin down an NCSN ladder can.
FAR_MEANS = [[-5.0, 0.0], [5.0, 0.0], [0.0, 0.0]]
FAR_WEIGHTS = [0.5, 0.35, 0.15]
LADDER_SPEC = f"""
scorec: 1
name: ncsn-ssm
seed: 0
data: {{source: gmm, weights: {FAR_WEIGHTS}, means: {FAR_MEANS}, std: 0.4, n: 10000}}
process: {{kind: ncsn, sigma_min: 0.05, sigma_max: 10.0, levels: 15}}
model: {{parameterization: energy, network: {{kind: mlp, hidden: [64, 64, 64]}}}}
objective: {{kind: ssm, variance_reduction: true}}
train: {{steps: 2500, batch_size: 256, lr: 2.0e-3, ema: 0.99, compile: false, log_every: 500, checkpoint_every: 2500}}
sample: {{sampler: annealed_langevin, steps_per_level: 30, step_size: 5.0e-4, n: 8000, batch_size: 8000}}
"""


def test_noise_conditional_energy_trained_by_ssm_recovers_far_mode_weights(tmp_path):
    """E(x, sigma_i) over a 15-level ladder by ssm (SSM-VR, weighted sigma_i^2), sampled by
    annealed Langevin: TV <= 0.05 (measured 0.024; with the exact score the same sampler gives
    0.016, so most of the gap is the sampler's, not the training's)."""
    programs = build(compile_text(LADDER_SPEC), tmp_path)
    programs.train.main(["--out", str(tmp_path), "--device", "cpu"])
    programs.sample.main(["--out", str(tmp_path), "--device", "cpu"])
    tv = share_tv(programs, tmp_path, FAR_MEANS)
    assert tv <= 0.05, f"mode-share TV {tv:.3f}"
