"""The `cd` objective (contrastive divergence with short-run Langevin negatives and a replay buffer).

* Mechanics against the truth: with alpha = 0 the gradient of E(x+) - E(x-) with respect to the
  parameters theta of E_theta = E_gmm + theta . phi is E_data phi - E_neg phi. At theta = 0 (the
  exact GMM energy) and negatives from a long chain on it, that is 0 within 4 standard errors;
  from a one-step chain started in the data's box it is not.
* The replay buffer: drawn without replacement, a REINIT fraction restarted (binomial tolerance),
  the negatives written back; saved and restored through a checkpoint file.
* A run killed by SIGKILL and rerun ends bit-identical to an uninterrupted one, buffer included.
* A short training run on a 2-D mixture learns its mode shares (TV <= 0.1), sampled by MALA from
  the process's prior (a Gaussian with the data's moments), as the example does.
"""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch

from emitted import REPO, build, compile_text
from scorec.emit.render import emit, write_files
from scorec.metrics import mode_shares, total_variation

WEIGHTS = [0.6, 0.3, 0.1]
MEANS = [[-1.0, 0.0], [1.0, 0.0], [0.0, 1.5]]
SPEC = f"""
scorec: 1
name: cd
seed: 0
data: {{source: gmm, weights: {WEIGHTS}, means: {MEANS}, std: 0.6, n: 10000}}
process: {{kind: none}}
model: {{parameterization: energy, network: {{kind: mlp, hidden: [64, 64]}}}}
objective: {{kind: cd, steps: 20, step_size: 0.01, alpha: 0.01}}
train: {{steps: 2000, batch_size: 256, lr: 1.0e-3, ema: 0.99, compile: false, log_every: 100,
        checkpoint_every: 500}}
sample: {{sampler: mala, steps: 300, step_size: 0.15, n: 4000, batch_size: 4000, denoise: false}}
"""


class Tilted(torch.nn.Module):
    """E_theta(x) = E_exact(x) + theta . x + gamma |x|^2 / 2: the exact energy at theta = gamma = 0."""

    def __init__(self, exact):
        super().__init__()
        self.exact = exact
        self.theta = torch.nn.Parameter(torch.zeros(2))
        self.gamma = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x, t):
        return self.exact(x, t) + x @ self.theta + 0.5 * self.gamma * (x**2).sum(1)


def features(x):
    """phi(x) = (x, |x|^2 / 2): d E_theta / d(theta, gamma)."""
    return torch.cat([x, 0.5 * (x**2).sum(1, keepdim=True)], 1)


def cd_gradient(tmp_path, overrides):
    """(gradient of the cd loss in (theta, gamma) at the exact energy, its standard error)."""
    programs = build(compile_text(SPEC, ["objective.alpha=0.0", "objective.persistent=false", *overrides]),
                     tmp_path / "mlp")
    exact = build(compile_text(SPEC.replace("kind: mlp, hidden: [64, 64]", "kind: analytic")), tmp_path / "exact")
    net = Tilted(exact.common.build_network())
    model = programs.common.ScoreModel(net)
    data = torch.as_tensor(programs.common.load_data("train", 0))
    generator = torch.Generator().manual_seed(1)
    programs.train.setup_objective(net, data, generator)
    x_pos = data[:8000]
    loss = programs.train.loss_fn(model, x_pos, generator)
    loss.backward()
    grad = torch.cat([net.theta.grad, net.gamma.grad.reshape(1)])
    # the loss's gradient is mean phi(x+) - mean phi(x-); x- are the same number of chains
    var = features(x_pos).var(0) / len(x_pos)
    return grad, (2 * var).sqrt()


def test_cd_gradient_vanishes_at_the_exact_energy_with_long_chains(tmp_path):
    grad, se = cd_gradient(tmp_path, ["objective.steps=1500", "objective.step_size=0.003",
                                      "objective.init=gaussian"])
    print(f"cd gradient at the exact energy, long chains: {grad.tolist()} (se {se.tolist()})")
    assert (grad.abs() < 4 * se).all(), (grad, se)


def test_cd_gradient_is_far_from_zero_with_one_step_from_the_data_box(tmp_path):
    grad, se = cd_gradient(tmp_path, ["objective.steps=1", "objective.init=uniform"])
    print(f"cd gradient at the exact energy, one step from the box: {grad.tolist()} (se {se.tolist()})")
    assert (grad.abs() > 10 * se).any(), (grad, se)


def test_replay_buffer_draws_restarts_and_round_trips_through_a_checkpoint(tmp_path):
    programs = build(compile_text(SPEC, ["objective.buffer=4000"]), tmp_path)
    train, common = programs.train, programs.common
    data = torch.as_tensor(common.load_data("train", 0))
    generator = torch.Generator().manual_seed(3)
    net = common.build_network()
    train.setup_objective(net, data, generator)
    chains = train.CHAINS
    low, high = data.amin(0), data.amax(0)
    pad = 0.1 * (high - low)
    assert ((chains.buffer >= low - pad) & (chains.buffer <= high + pad)).all()  # uniform in the padded box

    # draw the whole buffer: distinct slots, and a REINIT fraction restarted from the box
    chains.buffer.fill_(100.0)
    starts, slots = chains.draw(data[:4000], generator)
    assert len(set(slots.tolist())) == 4000
    restarted = (starts != 100.0).all(1).float().mean().item()
    tolerance = 4 * math.sqrt(0.05 * 0.95 / 4000)
    print(f"restarted fraction {restarted:.4f} (REINIT 0.05, tolerance {tolerance:.4f})")
    assert abs(restarted - train.REINIT) < tolerance

    # a training step writes its negatives back; the state survives torch.save/torch.load(weights_only)
    model = common.ScoreModel(net)
    chains.buffer.copy_(train.NegativeChains.fresh(chains, None, 4000, generator))
    before = chains.buffer.clone()
    train.loss_fn(model, data[:256], generator)
    moved = (chains.buffer != before).any(1)
    assert moved.sum() == 256  # exactly the batch's chains came back, moved by Langevin
    path = tmp_path / "state.pt"
    torch.save({"objective": train.objective_state_dict()}, path)
    saved = chains.buffer.clone()
    train.loss_fn(model, data[:256], generator)
    assert not torch.equal(chains.buffer, saved)
    again = build(compile_text(SPEC, ["objective.buffer=4000"]), tmp_path / "again")
    again.train.setup_objective(common.build_network(), data, torch.Generator().manual_seed(9))
    again.train.load_objective_state_dict(torch.load(path, weights_only=True)["objective"])
    assert torch.equal(again.train.CHAINS.buffer, saved)


def test_non_persistent_chains_start_where_init_says(tmp_path):
    """persistent false: no buffer; init data starts every chain at its data point (Hinton's CD-k),
    init gaussian from the data's mean and std per coordinate."""
    for init in ("data", "gaussian"):
        programs = build(compile_text(SPEC, ["objective.persistent=false", f"objective.init={init}"]), tmp_path / init)
        train = programs.train
        data = torch.as_tensor(programs.common.load_data("train", 0))
        generator = torch.Generator().manual_seed(0)
        train.setup_objective(programs.common.build_network(), data, generator)
        assert train.CHAINS.buffer is None and train.objective_state_dict() == {"buffer": None}
        starts, slots = train.CHAINS.draw(data[:5000], generator)
        assert slots is None
        if init == "data":
            assert torch.equal(starts, data[:5000])
        else:
            assert torch.allclose(starts.mean(0), data.mean(0), atol=4 * data.std(0).max() / math.sqrt(5000))
            assert torch.allclose(starts.std(0), data.std(0), rtol=0.05)


KILL_SPEC = SPEC.replace("steps: 2000, batch_size: 256", "steps: 60, batch_size: 64").replace(
    "log_every: 100,\n        checkpoint_every: 500", "log_every: 5, checkpoint_every: 10").replace(
    "steps: 20, step_size: 0.01", "steps: 5, step_size: 0.01, buffer: 500")


def train_process(code, out):
    return subprocess.Popen([sys.executable, "-u", str(code / "train.py"), "--out", str(out), "--device", "cpu"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO)


def test_killed_cd_run_resumes_bit_identically(tmp_path):
    """SIGKILL after the third checkpoint, rerun: weights, optimizer, generator and replay buffer
    equal those of an uninterrupted run."""
    assert "checkpoint_every: 10" in KILL_SPEC and "buffer: 500" in KILL_SPEC
    code = tmp_path / "code"
    write_files(emit(compile_text(KILL_SPEC)), code)
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    assert train_process(code, whole).wait() == 0
    proc = train_process(code, killed)
    for line in proc.stdout:  # the event after the third checkpoint's step
        if '"step": 35' in line:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    state = torch.load(killed / "checkpoints" / "last.pt", weights_only=True)
    assert 30 <= state["step"] < 60
    assert train_process(code, killed).wait() == 0
    a = torch.load(whole / "checkpoints" / "last.pt", weights_only=True)
    b = torch.load(killed / "checkpoints" / "last.pt", weights_only=True)
    assert a["step"] == b["step"] == 60
    for part in ("net", "ema"):
        for key in a[part]:
            assert torch.equal(a[part][key], b[part][key]), f"{part}.{key}"
    assert torch.equal(a["generator"], b["generator"])
    assert torch.equal(a["objective"]["buffer"], b["objective"]["buffer"])


def true_shares(n=200000, seed=0):
    rng = np.random.default_rng(seed)
    k = rng.choice(3, size=n, p=WEIGHTS)
    x = np.asarray(MEANS)[k] + 0.6 * rng.standard_normal((n, 2))
    return mode_shares(x, np.asarray(MEANS))


def test_cd_trains_an_energy_that_learns_the_mode_shares(tmp_path):
    """Mode-share TV <= 0.1 against the mixture's own shares (its modes overlap: nearest-mean shares
    of true samples are about 0.56/0.30/0.14, TV 0.04 from the weights); n = 4000: noise ~0.01."""
    started = time.time()
    programs = build(compile_text(SPEC), tmp_path)
    programs.train.main(["--out", str(tmp_path), "--device", "cpu"])
    programs.sample.main(["--out", str(tmp_path), "--device", "cpu"])
    x = np.load(tmp_path / "samples.npz")["samples"]
    shares = mode_shares(x, np.asarray(MEANS))
    tv, tv_weights = total_variation(shares, true_shares()), total_variation(shares, np.asarray(WEIGHTS))
    print(f"cd: shares {shares}, TV {tv:.4f} vs true shares, {tv_weights:.4f} vs weights, "
          f"{time.time() - started:.0f} s")
    assert tv <= 0.1 and tv_weights <= 0.1


@pytest.mark.slow
def test_two_process_cd_resumes_with_each_ranks_buffer(tmp_path):
    """Under torchrun (2 processes, gloo) each rank keeps its own replay buffer; all are saved
    (rank_objectives) and a run stopped at step 30 and resumed equals an uninterrupted one."""
    code = tmp_path / "code"
    write_files(emit(compile_text(KILL_SPEC)), code)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}

    def torchrun(out, *extra):
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node=2",
               str(code / "train.py"), "--out", str(out), "--device", "cpu", *extra]
        done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
        assert done.returncode == 0, done.stderr[-2000:]

    torchrun(tmp_path / "whole")
    torchrun(tmp_path / "parts", "--steps", "30")
    torchrun(tmp_path / "parts")
    a = torch.load(tmp_path / "whole" / "checkpoints" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "parts" / "checkpoints" / "last.pt", weights_only=True)
    assert a["step"] == b["step"] == 60 and len(a["rank_objectives"]) == 2
    assert not torch.equal(a["rank_objectives"][0]["buffer"], a["rank_objectives"][1]["buffer"])
    for key in a["ema"]:
        assert torch.equal(a["ema"][key], b["ema"][key]), key
    for x, y in zip(a["rank_objectives"], b["rank_objectives"]):
        assert torch.equal(x["buffer"], y["buffer"])
