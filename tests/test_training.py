"""A short CPU training run of the emitted train.py (dsm, vp, eps) learns a GMM's modes.

Pass mark: mode-share total variation <= 0.05 between samples of the trained model and
the mixture weights (n = 4000 samples: the shares' own noise is about 0.01 in TV).
"""

from __future__ import annotations

import json

import numpy as np

from emitted import build, compile_text
from scorec.metrics import mode_shares, total_variation

MEANS = [[-2.0, 0.0], [2.0, 0.0], [0.0, 2.5]]
WEIGHTS = [0.6, 0.3, 0.1]
SPEC = f"""
scorec: 1
name: train-gmm
seed: 0
data: {{source: gmm, weights: {WEIGHTS}, means: {MEANS}, std: 0.3, n: 10000}}
process: {{kind: vp}}
model: {{parameterization: eps, network: {{kind: mlp, hidden: [128, 128, 128]}}}}
objective: {{kind: dsm, weighting: sigma2}}
train: {{steps: 1500, batch_size: 256, lr: 2.0e-3, ema: 0.99, compile: false, log_every: 100, checkpoint_every: 500}}
sample: {{sampler: ode, method: heun, steps: 100, n: 4000, batch_size: 4000}}
"""


def test_short_training_learns_mode_weights(tmp_path):
    programs = build(compile_text(SPEC), tmp_path)
    programs.train.main(["--out", str(tmp_path), "--device", "cpu"])
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    losses = [e["loss"] for e in events if e["event"] == "train"]
    assert len(losses) == 15 and all(np.isfinite(losses))
    assert np.mean(losses[-3:]) < 0.7 * np.mean(losses[:2]), "loss did not go down"

    programs.sample.main(["--out", str(tmp_path), "--device", "cpu"])
    x = np.load(tmp_path / "samples.npz")["samples"]
    tv = total_variation(mode_shares(x, np.asarray(MEANS)), np.asarray(WEIGHTS))
    assert tv <= 0.05, f"mode-share TV {tv:.3f}"


def test_training_resumes_from_checkpoint_identically(tmp_path):
    """Stopping after 60 steps and resuming gives the same weights as 120 uninterrupted steps."""
    spec = SPEC.replace("steps: 1500", "steps: 120").replace("checkpoint_every: 500", "checkpoint_every: 60")
    import torch

    a, b = tmp_path / "a", tmp_path / "b"
    build(compile_text(spec), a).train.main(["--out", str(a), "--device", "cpu"])
    programs = build(compile_text(spec), b)
    programs.train.main(["--out", str(b), "--device", "cpu", "--steps", "60"])
    programs.train.main(["--out", str(b), "--device", "cpu"])
    sa = torch.load(a / "checkpoints" / "last.pt", weights_only=True)
    sb = torch.load(b / "checkpoints" / "last.pt", weights_only=True)
    assert sa["step"] == sb["step"] == 120
    for key in sa["ema"]:
        assert torch.equal(sa["ema"][key], sb["ema"][key]), key


def test_checkpoint_outlives_sampling_changes_but_not_model_changes(tmp_path, capsys):
    """A checkpoint is tied to what its weights mean (the training hash), not to the whole spec:
    another sampler reuses it, a longer run resumes it, another network is refused."""
    import pytest

    spec = SPEC.replace("steps: 1500", "steps: 30")
    build(compile_text(spec), tmp_path).train.main(["--out", str(tmp_path), "--device", "cpu"])

    other_sampler = build(compile_text(spec, ["sample.sampler=em", "sample.steps=5", "sample.n=8",
                                              "sample.batch_size=8"]), tmp_path / "em")
    other_sampler.sample.main(["--out", str(tmp_path), "--device", "cpu"])
    assert np.load(tmp_path / "samples.npz")["samples"].shape == (8, 2)

    longer = build(compile_text(spec, ["train.steps=40"]), tmp_path / "longer")
    longer.train.main(["--out", str(tmp_path), "--device", "cpu"])
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert [e["step"] for e in events if e["event"] == "train_start"] == [0, 30]

    wider = build(compile_text(spec, ["model.network.hidden=[64, 64]"]), tmp_path / "wider")
    for program in (wider.train, wider.sample):
        capsys.readouterr()
        with pytest.raises(SystemExit) as stopped:
            program.main(["--out", str(tmp_path), "--device", "cpu"])
        assert stopped.value.code == wider.runtime.EXIT_CHECKPOINT
        assert "not one of this model's: it holds another model" in capsys.readouterr().err
    wider.train.main(["--out", str(tmp_path), "--device", "cpu", "--fresh"])
    events = [json.loads(line) for line in (tmp_path / "events.jsonl").read_text().splitlines()]
    assert events[0]["event"] == "train_start" and events[0]["step"] == 0  # a fresh log


def test_diverging_training_stops_and_keeps_the_last_good_checkpoint(tmp_path, capsys):
    """A learning rate that blows the weights up stops training with a message; the
    checkpoint on disk is the last finite one."""
    import pytest
    import torch

    spec = SPEC.replace("steps: 1500", "steps: 40").replace("checkpoint_every: 500", "checkpoint_every: 10")
    spec = spec.replace("log_every: 100", "log_every: 10")
    diverging = build(compile_text(spec, ["train.grad_clip=null"]), tmp_path / "nan")
    diverging.train.main(["--out", str(tmp_path / "nan"), "--device", "cpu", "--steps", "10"])
    # poison the weights so the next steps produce non-finite values
    state = torch.load(tmp_path / "nan" / "checkpoints" / "last.pt", weights_only=True)
    state["net"] = {k: v * float("inf") if v.is_floating_point() else v for k, v in state["net"].items()}
    torch.save(state, tmp_path / "nan" / "checkpoints" / "last.pt")
    with pytest.raises(SystemExit) as stopped:
        diverging.train.main(["--out", str(tmp_path / "nan"), "--device", "cpu"])
    assert stopped.value.code == diverging.runtime.EXIT_DIVERGED
    assert "not finite from step 11" in capsys.readouterr().err
    kept = torch.load(tmp_path / "nan" / "checkpoints" / "last.pt", weights_only=True)
    assert kept["step"] == 10
