"""templates/runtime_training.py and runtime_sampling.py, tested as the Python modules they are: the
divergence guard, exact resume, sharded training batches, and the sampling share. A tiny nn.Linear
stands in for the network; nothing is compiled or trained (tests/test_faults.py runs the programs end
to end).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from runtime_helpers import HASH, one_line_exit, small_model


# ------------------------------------------------------------------------------ training


def trainer_for(rt, run, seed=0, objective=None):
    net, _ = small_model(seed)
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-2)
    generator = torch.Generator().manual_seed(seed)
    return rt.Trainer(str(run), net, optimizer, generator, HASH, objective_state=objective)


def fake_step(trainer, loss):
    trainer.net(torch.ones(2, 3)).sum().backward()
    trainer.optimizer.step()
    trainer.optimizer.zero_grad()
    trainer.after_step(torch.tensor(loss), torch.tensor(1.0), 0.9)


def test_divergence_names_the_first_bad_step_and_saves_nothing_after_it(rt, tmp_path, capsys):
    trainer = trainer_for(rt, tmp_path)
    assert trainer.start(fresh=False, seed=0) == 0
    for step, loss in enumerate([1.0, 2.0, float("nan"), 1.0, 1.0], start=1):
        fake_step(trainer, loss)
        if step == 2:
            trainer.save(step)
            assert trainer.mean_loss() == pytest.approx(1.5)
    err = one_line_exit(capsys, rt.EXIT_DIVERGED, trainer.save, 5)
    assert "not finite from step 3 (stopped at step 5)" in err and "keeps the weights of step 2" in err
    assert torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)["step"] == 2
    events = [json.loads(line) for line in open(tmp_path / "events.jsonl")]
    assert events[-1]["event"] == "diverged" and events[-1]["step"] == 3


def test_infinite_weights_after_finite_steps_are_refused(rt, tmp_path, capsys):
    trainer = trainer_for(rt, tmp_path)
    trainer.start(fresh=False, seed=0)
    fake_step(trainer, 1.0)
    with torch.no_grad():
        trainer.net.weight.fill_(float("inf"))
    err = one_line_exit(capsys, rt.EXIT_DIVERGED, trainer.save, 1)
    assert "the weights are not finite at step 1; no checkpoint was written" in err


def test_a_resume_restores_weights_noise_stream_and_objective_state(rt, tmp_path, capsys):
    saved_objective = {"buffer": torch.arange(4.0)}
    loaded = []
    first = trainer_for(rt, tmp_path, objective=(lambda: saved_objective, loaded.append))
    first.start(fresh=False, seed=0)
    fake_step(first, 1.0)
    first.save(1)
    expected_draw = torch.rand(3, generator=first.generator)

    again = trainer_for(rt, tmp_path, seed=5, objective=(lambda: {}, loaded.append))
    assert again.start(fresh=False, seed=0) == 1
    assert torch.equal(torch.rand(3, generator=again.generator), expected_draw)
    assert torch.equal(again.net.weight, first.net.weight) and torch.equal(again.ema["weight"], first.ema["weight"])
    assert len(loaded) == 1 and torch.equal(loaded[0]["buffer"], saved_objective["buffer"])
    assert again.saved_step == 1 and int(again.step) == 1
    assert trainer_for(rt, tmp_path, seed=5).start(fresh=True, seed=0) == 0
    # a checkpoint without the objective's state cannot resume a stateful objective
    plain = trainer_for(rt, tmp_path / "plain")
    plain.start(fresh=False, seed=0)
    plain.save(0)
    stateful = trainer_for(rt, tmp_path / "plain", objective=(lambda: {}, loaded.append))
    err = one_line_exit(capsys, rt.EXIT_CHECKPOINT, stateful.start, False, 0)
    assert "it has no 'objective'" in err


def test_fresh_after_a_restart_resumes_only_what_this_launch_saved(rt, tmp_path, monkeypatch):
    """--fresh with --max-restarts: the first attempt starts over; a restarted one (torchrun's
    TORCHELASTIC_RESTART_COUNT > 0) continues from a checkpoint of this launch, never from one of before."""
    for name in ("SCOREC_LAUNCH", "TORCHELASTIC_RUN_ID", "TORCHELASTIC_RESTART_COUNT"):
        monkeypatch.delenv(name, raising=False)
    path = str(tmp_path / "checkpoints" / "last.pt")
    assert not rt.resumable(path, fresh=False)  # nothing to resume
    monkeypatch.setenv("SCOREC_LAUNCH", "before")
    first = trainer_for(rt, tmp_path)
    first.start(fresh=True, seed=0)
    first.save(0)  # a checkpoint of launch "before"
    assert rt.resumable(path, fresh=False) and not rt.resumable(path, fresh=True)
    monkeypatch.setenv("SCOREC_LAUNCH", "now")
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "1")
    assert not rt.resumable(path, fresh=True)  # restarted, but last.pt is from before --fresh
    first.save(3)  # this launch's
    assert rt.resumable(path, fresh=True)
    assert trainer_for(rt, tmp_path).start(fresh=True, seed=0) == 3
    monkeypatch.setenv("TORCHELASTIC_RESTART_COUNT", "0")
    assert trainer_for(rt, tmp_path).start(fresh=True, seed=0) == 0  # the first attempt of a --fresh run


def test_each_process_draws_from_its_own_shard_of_the_data(rt, monkeypatch):
    data = np.arange(10.0).reshape(10, 1)
    monkeypatch.setattr(rt.runtime_training, "rank_and_world", lambda: (1, 3))  # rank 1 of 3: rows 1, 4, 7
    drawn = next(rt.tensor_batches(data, 64, torch.Generator().manual_seed(0), torch.device("cpu")))
    assert set(drawn.flatten().tolist()) == {1.0, 4.0, 7.0}


def test_tensor_batches_draw_with_the_generator(rt):
    data = np.arange(10.0).reshape(10, 1)
    a = next(rt.tensor_batches(data, 4, torch.Generator().manual_seed(3), torch.device("cpu")))
    b = next(rt.tensor_batches(data, 4, torch.Generator().manual_seed(3), torch.device("cpu")))
    assert a.shape == (4, 1) and torch.equal(a, b)


def test_an_uneven_batch_is_a_usage_error(rt, capsys):
    assert rt.share_of_batch(512, 4) == 128
    err = one_line_exit(capsys, rt.EXIT_USAGE, rt.share_of_batch, 512, 3)
    assert "does not split evenly over 3 processes" in err


# ------------------------------------------------------------------------------ sampling


class CountingModel:
    def __init__(self):
        self.nfe, self.stats = 0, {}


def test_a_sample_share_draws_every_batch_with_its_own_stream(rt, tmp_path):
    events = []
    share = rt.SampleShare(10, 4, seed=7, steps=2, device=torch.device("cpu"), log=lambda **e: events.append(e))
    assert share.sizes == [4, 4, 2]
    model = CountingModel()
    for size, generator, progress in share:
        progress(2)
        model.nfe, model.stats = 3, {"acceptance": 0.5 if size == 4 else 1.0}
        share.keep(torch.rand(size, 1, generator=generator), model)
    done = share.write(str(tmp_path / "samples.npz"))
    assert done == {"n": 10, "nfe": 3, "finite": True}
    saved = np.load(tmp_path / "samples.npz")
    # batch k is the same numbers whatever drew the batches before it
    second = torch.rand(4, 1, generator=rt.batch_generator(7, 1, "cpu")).numpy()
    assert np.array_equal(saved["samples"][4:8], second)
    assert float(saved["stat_acceptance"]) == pytest.approx((4 * 0.5 + 4 * 0.5 + 2 * 1.0) / 10)
    assert [e["done"] for e in events if e["event"] == "sample"] == [4, 8, 10]
    assert [e["fraction"] for e in events if e["event"] == "sample_progress"] == [0.4, 0.8, 1.0]
