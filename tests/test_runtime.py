"""templates/runtime.py and runtime_training.py's checkpoints, the emitted programs' files, tested as the
Python modules they are: atomic writes under failure, every kind of damaged checkpoint, the event log
and the run lock. A tiny nn.Linear stands in for the network; nothing is compiled or trained
(tests/test_runtime_training.py: the training loop's bookkeeping and the sampling share;
tests/test_faults.py runs the programs end to end).
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

from emitted import REPO
from runtime_helpers import HASH, one_line_exit, small_model

RUNTIME = REPO / "templates" / "runtime.py"  # the base module: it imports none of its siblings


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
