"""Objective flow_matching: its target on the linear path, and minibatch OT pairing.

* On process flow the velocity target alpha' x_0 + sigma' z is z - x_0 (x_1 - x_0 in flow
  matching's notation), exactly.
* ot_pairing returns the pairing of least total squared distance: checked against every one of
  the 7! pairings of a small batch.
* A few training steps with coupling ot run and give finite losses.
"""

from __future__ import annotations

import itertools
import json

import numpy as np
import torch

from emitted import build, compile_text

SPEC = """
scorec: 1
name: fm
seed: 0
data: {{source: gmm, weights: [0.5, 0.5], means: [[-2.0, 0.0], [2.0, 0.0]], std: 0.3}}
process: {{kind: flow}}
model: {{parameterization: velocity, network: {{kind: mlp, hidden: [32, 32]}}}}
objective: {{kind: flow_matching, coupling: {coupling}}}
train: {{steps: 5, batch_size: 64, compile: false, log_every: 1, checkpoint_every: 5}}
sample: {{sampler: ode, steps: 4, n: 100}}
"""


def test_target_on_the_linear_path_is_noise_minus_data(tmp_path):
    c = build(compile_text(SPEC.format(coupling="independent")), tmp_path).common
    gen = torch.Generator().manual_seed(0)
    x0, z = torch.randn(50, 2, generator=gen), torch.randn(50, 2, generator=gen)
    t = torch.rand(50, generator=gen)
    assert torch.equal(c.prediction_target(x0, z, t), z - x0)


def test_ot_pairing_is_the_optimal_assignment(tmp_path):
    programs = build(compile_text(SPEC.format(coupling="ot")), tmp_path)
    gen = torch.Generator().manual_seed(1)
    x0, z = torch.randn(7, 2, generator=gen), torch.randn(7, 2, generator=gen)
    paired = programs.train.ot_pairing(x0, z)
    cost = lambda zz: float(((x0 - zz) ** 2).sum())  # noqa: E731
    best = min(cost(z[list(p)]) for p in itertools.permutations(range(7)))
    assert abs(cost(paired) - best) < 1e-5
    assert sorted(map(tuple, paired.tolist())) == sorted(map(tuple, z.tolist()))  # a permutation of z


def test_training_with_ot_coupling_runs(tmp_path):
    programs = build(compile_text(SPEC.format(coupling="ot")), tmp_path)
    programs.train.main(["--out", str(tmp_path), "--device", "cpu"])
    losses = [json.loads(line)["loss"] for line in (tmp_path / "events.jsonl").read_text().splitlines()
              if json.loads(line)["event"] == "train"]
    assert len(losses) == 5 and np.isfinite(losses).all()
