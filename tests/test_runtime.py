"""templates/runtime*.py, the emitted programs' run plumbing, tested as the Python modules they are:
atomic writes under failure, every kind of damaged checkpoint, the event log, the run lock,
the divergence guard, exact resume, and the sampling share. A tiny nn.Linear stands in for the
network; nothing is compiled or trained (tests/test_faults.py runs the programs end to end).
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from emitted import REPO, RUNTIME as RUNTIME_MODULES, load_siblings, restore

RUNTIME = REPO / "templates" / "runtime.py"  # the base module: it imports none of its siblings
HASH = "a" * 64


class Runtime(SimpleNamespace):
    """The runtime modules as one namespace (each name is defined in one of them); the modules
    themselves as .runtime, .runtime_parallel, ... for patching a name where it is looked up."""


@pytest.fixture(scope="module")
def rt():
    modules, saved = load_siblings(REPO / "templates", RUNTIME_MODULES, "under_test")
    restore(saved)
    names = {name: value for module in modules.values() for name, value in vars(module).items()
             if not name.startswith("__")}
    return Runtime(**names, **modules)


def one_line_exit(capsys, code, call, *args, **kwargs):
    """Run call(...), which must exit with `code` and one line on stderr; return that line."""
    capsys.readouterr()
    with pytest.raises(SystemExit) as stopped:
        call(*args, **kwargs)
    err = capsys.readouterr().err
    assert stopped.value.code == code, err
    assert err.startswith("error: ") and err.count("\n") == 1, err
    return err


# ------------------------------------------------------------------------------ atomic writes


def test_a_failed_write_leaves_the_old_file_and_no_temporary(rt, tmp_path):
    path = tmp_path / "last.pt"
    path.write_bytes(b"old")

    def half_then_fail(tmp):
        with open(tmp, "wb") as fh:
            fh.write(b"half")
        raise KeyError("killed")

    with pytest.raises(KeyError):
        rt.atomic_write(str(path), half_then_fail)
    assert path.read_bytes() == b"old" and sorted(p.name for p in tmp_path.iterdir()) == ["last.pt"]


def test_torch_saves_failure_is_an_os_error_with_its_cause(rt, tmp_path, monkeypatch):
    """torch.save says "unexpected pos" on a full disk or at a file-size limit: the cause is named."""
    import resource

    def refuse(message):
        def write(tmp):
            raise RuntimeError(message)
        return write

    def cause(message):
        with pytest.raises(OSError) as raised:
            rt.atomic_write(str(tmp_path / "last.pt"), refuse(message))
        return raised.value.strerror

    monkeypatch.setattr(resource, "getrlimit", lambda which: (200000, 200000))
    assert cause("unexpected pos 64 vs 0") == "File too large (over the file-size limit, ulimit -f, of 200000 bytes)"
    monkeypatch.setattr(resource, "getrlimit", lambda which: (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
    assert cause("[enforce fail at inline_container.cc:603]\nunexpected pos 64 vs 0") == "unexpected pos 64 vs 0"
    assert cause("") == "RuntimeError"  # a message-less error still says something, in one line
    assert list(tmp_path.iterdir()) == []


def test_atomic_savez_keeps_the_name_and_honours_the_umask(rt, tmp_path):
    path = tmp_path / "samples.npz"
    rt.atomic_savez(str(path), samples=np.arange(3.0))
    assert np.array_equal(np.load(path)["samples"], np.arange(3.0))
    assert os.stat(path).st_mode & 0o777 == 0o666 & ~rt.current_umask()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["samples.npz"]


def test_prepare_folder_removes_only_our_temporaries(rt, tmp_path):
    folder = tmp_path / "checkpoints"
    folder.mkdir()
    for name in (".last.pt.x1y2z3.scorec-tmp", ".keep", "last.pt", "notes.scorec-tmp"):
        (folder / name).write_bytes(b"")
    rt.prepare_folder(str(folder))
    assert sorted(p.name for p in folder.iterdir()) == [".keep", "last.pt", "notes.scorec-tmp"]
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    with pytest.raises(OSError):
        rt.prepare_folder(str(blocker))


# ------------------------------------------------------------------------------ checkpoints


def small_model(seed=0):
    torch.manual_seed(seed)
    net = torch.nn.Linear(3, 2)
    optimizer = torch.optim.AdamW(net.parameters(), lr=1e-2)
    net(torch.ones(4, 3)).sum().backward()
    optimizer.step()
    return net, optimizer


def good_state():
    net, optimizer = small_model()
    return {"step": 7, "net": net.state_dict(), "ema": net.state_dict(), "optimizer": optimizer.state_dict(),
            "generator": torch.Generator().get_state(), "training_hash": HASH}


class Payload:
    """A pickle that would run code when loaded (weights_only refuses it)."""

    def __reduce__(self):
        return (os.system, ("touch PWNED",))


# kind -> (how to write the damaged last.pt, what the one-line message says)
UNREADABLE = {
    "empty": (lambda path: path.write_bytes(b""), "the file is empty (0 bytes)"),
    "truncated": (lambda path: (torch.save(good_state(), path), os.truncate(path, os.path.getsize(path) // 2)), ""),
    "garbage": (lambda path: path.write_bytes(b"this is not a checkpoint \x00\x01\x02" * 10), ""),
    "directory": (lambda path: path.mkdir(), ""),
    "malicious-pickle": (lambda path: path.write_bytes(pickle.dumps(Payload(), protocol=2)), "Weights only load failed"),
}
INVALID = {
    "list": (lambda s: [1, 2, 3], "it holds a list, not a dict"),
    "no-net": (lambda s: {k: v for k, v in s.items() if k != "net"}, "it has no 'net'"),
    "wrong-shapes": (lambda s: {**s, "net": {k: torch.zeros(3, *v.shape) for k, v in s["net"].items()}},
                     "net.weight has shape (3, 2, 3) where this network has (2, 3)"),
    "weights-not-a-dict": (lambda s: {**s, "ema": [1]}, "its 'ema' is a list, not a dict of weights"),
    "string-step": (lambda s: {**s, "step": "ten"}, "its step is 'ten', not a count of steps"),
    "bool-step": (lambda s: {**s, "step": True}, "its step is True"),
    "bad-generator": (lambda s: {**s, "generator": torch.zeros(7, dtype=torch.uint8)}, "its generator state"),
    "bad-optimizer": (lambda s: {**s, "optimizer": {"state": {0: {"exp_avg": torch.zeros(5, 5)}},
                                                    "param_groups": s["optimizer"]["param_groups"]}},
                      "its optimizer's exp_avg of parameter 0 does not fit"),
    "optimizer-not-a-dict": (lambda s: {**s, "optimizer": 3}, "its optimizer state is not a dict"),
    "other-model": (lambda s: {**s, "training_hash": "0" * 64}, "it holds another model (training hash 0000"),
    "no-objective": (lambda s: s, "it has no 'objective'"),
}


@pytest.mark.parametrize("kind", sorted(UNREADABLE))
def test_an_unreadable_checkpoint_is_one_line_and_exit_5(rt, kind, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    path = tmp_path / "last.pt"
    damage, says = UNREADABLE[kind]
    damage(path)
    net, optimizer = small_model()
    err = one_line_exit(capsys, rt.EXIT_CHECKPOINT, rt.load_checkpoint, str(path), "cpu", net, HASH, optimizer,
                        torch.Generator(), hint="pass --fresh")
    assert err.startswith(f"error: cannot read checkpoint {path}: ") and err.endswith("; delete it, or pass --fresh\n")
    assert says in err
    assert not (tmp_path / "PWNED").exists()


@pytest.mark.parametrize("kind", sorted(INVALID))
def test_another_models_checkpoint_says_why_and_exits_5(rt, kind, tmp_path, capsys):
    path = tmp_path / "last.pt"
    damage, says = INVALID[kind]
    torch.save(damage(good_state()), path)
    net, optimizer = small_model()
    err = one_line_exit(capsys, rt.EXIT_CHECKPOINT, rt.load_checkpoint, str(path), "cpu", net, HASH, optimizer,
                        torch.Generator(), keys=("objective",) if kind == "no-objective" else ())
    assert f"{path}: this checkpoint is not one of this model's: " in err and says in err, err


def test_a_good_checkpoint_loads_and_sample_py_checks_only_the_weights(rt, tmp_path, capsys):
    state = good_state()
    torch.save({**state, "optimizer": 3, "generator": None}, tmp_path / "ema-only.pt")
    net, optimizer = small_model(seed=1)
    assert rt.checkpoint_problem(state, net, HASH, optimizer, torch.Generator()) is None
    assert rt.checkpoint_problem(torch.load(tmp_path / "ema-only.pt", weights_only=True), net, HASH) is None
    (tmp_path / "checkpoints").mkdir()
    torch.save(state, tmp_path / "checkpoints" / "last.pt")
    rt.load_ema_weights(net, str(tmp_path), "cpu", HASH)
    assert torch.equal(net.weight, state["ema"]["weight"])
    err = one_line_exit(capsys, rt.EXIT_CHECKPOINT, rt.load_ema_weights, net, str(tmp_path / "none"), "cpu", HASH)
    assert "no checkpoint at " in err and "run train.py --out " in err


# ------------------------------------------------------------------------------ events


def test_events_are_strict_json_and_cut_back_to_a_step(rt, tmp_path, capsys):
    path = str(tmp_path / "events.jsonl")
    log = rt.event_log(path, start=0)
    for step in (5, 10, 15):
        log(event="train", step=step, loss=float("inf") if step == 15 else 1.0 / step)
    assert '"loss": null' in capsys.readouterr().out
    with open(path, "a") as fh:
        fh.write('{"event": "tra')  # a kill tore the last line
    rt.event_log(path, start=10)(event="train_start", step=10)
    lines = [json.loads(line) for line in open(path)]
    assert [(e["event"], e["step"]) for e in lines] == [("train", 5), ("train", 10), ("train_start", 10)]
    rt.event_log(path, start=0)  # a new training run: a new log
    assert not os.path.exists(path)


def test_truncate_stops_at_the_first_line_that_is_not_an_event(rt, tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text('{"step": 1}\n[1, 2]\n{"step": 2}\n')
    rt.truncate_events(str(path), 5)
    assert path.read_text() == '{"step": 1}\n'


# ------------------------------------------------------------------------------ the run lock


def test_the_lock_names_its_holder_and_is_released(rt, tmp_path):
    run = tmp_path / "run"
    with rt.RunLock(run, "spec-a", "train.py"):
        with pytest.raises(rt.RunDirectoryInUse) as held:
            with rt.RunLock(run, "spec-b", "scorec run"):
                pass
        token = os.environ[rt.LOCK_TOKEN_VARIABLE]
    message = str(held.value)
    assert message.startswith(f"{run} is in use by train.py (pid {os.getpid()}, started ")
    assert message.endswith("spec 'spec-a'); wait for it to finish, or choose another --out")
    assert rt.LOCK_TOKEN_VARIABLE not in os.environ
    assert json.loads((run / rt.LOCK_NAME).read_text())["token"] == token
    with rt.RunLock(run, "spec-b", "scorec run"):  # released: the next run takes it
        pass


CHILD = """
import importlib.util, os, sys
spec = importlib.util.spec_from_file_location("rt", sys.argv[1])
rt = importlib.util.module_from_spec(spec)
spec.loader.exec_module(rt)
tokens = {"inherited": os.environ[rt.LOCK_TOKEN_VARIABLE], "guessed": "0" * 16, "none": None}
for case, token in tokens.items():
    os.environ.pop(rt.LOCK_TOKEN_VARIABLE)
    if token is not None:
        os.environ[rt.LOCK_TOKEN_VARIABLE] = token
    try:
        with rt.RunLock(sys.argv[2], "child", "sample.py"):
            print(case, "inside")
    except rt.RunDirectoryInUse as exc:
        print(case, exc)
    os.environ.setdefault(rt.LOCK_TOKEN_VARIABLE, "")
"""


def test_programs_started_by_the_holder_run_inside_its_lock_and_no_others(rt, tmp_path):
    """The holder's token, inherited through the environment, lets its own programs in; a process
    with another token or none is refused (one child process tries the three, to keep this fast)."""
    run = tmp_path / "run"
    with rt.RunLock(run, "parent", "scorec run"):
        out = subprocess.run([sys.executable, "-c", CHILD, str(RUNTIME), str(run)], capture_output=True, text=True,
                             timeout=120, check=True).stdout.splitlines()
    refused = f"{run} is in use by another scorec run (pid {os.getpid()}"
    assert out[0] == "inherited inside"
    assert out[1].startswith(f"guessed {refused}") and out[2].startswith(f"none {refused}"), out


def test_run_program_exits_6_in_use_and_4_unwritable(rt, tmp_path, capsys):
    run = tmp_path / "run"
    args = SimpleNamespace(out=str(run))
    ran = []
    with rt.RunLock(run, "other", "scorec run"):
        err = one_line_exit(capsys, rt.EXIT_IN_USE, rt.run_program, ran.append, args, "mine", "train.py")
    assert "is in use by another scorec run" in err and ran == []
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    err = one_line_exit(capsys, rt.EXIT_IO, rt.run_program, ran.append, SimpleNamespace(out=str(blocker)), "mine",
                        "train.py")
    assert err.startswith(f"error: cannot write the run directory: {blocker}") and ran == []
    rt.run_program(ran.append, args, "mine", "train.py")
    assert ran == [args]


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


def tensorboard_scalars(folder) -> dict[str, list[tuple[int, float]]]:
    """Every scalar in the TensorBoard event files under `folder`, read by TensorBoard's own reader."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(folder))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_train_log_tensorboard_gets_the_scalars_of_events_jsonl(rt, tmp_path, monkeypatch):
    """train.log: [tensorboard]: each train event's numbers (not the flag, not a non-finite loss) by step,
    beside events.jsonl; a resume from step 20 purges what was logged after it."""
    pytest.importorskip("tensorboard")
    monkeypatch.delenv("RANK", raising=False)
    kept = []
    log = rt.with_trackers(lambda **event: kept.append(event), ["tensorboard"], str(tmp_path), 0)
    log(event="train_start", step=0)
    for step, loss in ((10, 1.5), (20, 0.75), (30, float("nan"))):
        log(event="train", step=step, loss=loss, finite=loss == loss, lr=step / 1000)
    assert [e["event"] for e in kept] == ["train_start", "train", "train", "train"]
    scalars = tensorboard_scalars(tmp_path / "tensorboard")
    assert scalars == {"train/loss": [(10, 1.5), (20, 0.75)],
                       "train/lr": [(10, pytest.approx(0.01)), (20, pytest.approx(0.02)), (30, pytest.approx(0.03))]}
    resumed = rt.with_trackers(lambda **event: None, ["tensorboard"], str(tmp_path), 20)
    resumed(event="train", step=30, loss=0.5, finite=True, lr=0.04)
    after = tensorboard_scalars(tmp_path / "tensorboard")
    assert after["train/loss"] == [(10, 1.5), (20, 0.75), (30, 0.5)]
    assert after["train/lr"] == [(10, pytest.approx(0.01)), (20, pytest.approx(0.02)), (30, pytest.approx(0.04))]


def test_no_trackers_is_the_event_log_itself(rt):
    log = lambda **event: None  # noqa: E731
    assert rt.with_trackers(log, [], "unused", 0) is log
