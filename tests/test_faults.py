"""Fault injection: what a run survives, and what it leaves behind when it cannot.

SIGKILL at random moments and inside the checkpoint write (the resume is bit-identical, no
stray or partial file, no duplicate event); divergence (the first non-finite step named, every
checkpoint before it kept, none after); disk faults (not a directory, read-only, file-size
limit); two runs on one directory; damaged checkpoints of each kind. Tiny specs, CPU.
"""

from __future__ import annotations

import json
import os
import random
import re
import resource
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from emitted import REPO, build, compile_text
from scorec.cli import app
from scorec.emit.render import emit, write_files
from scorec.run.lock import run_lock

SPEC = """
scorec: 1
name: faults
seed: 0
data: {source: swiss_roll, n: 2000}
process: {kind: vp}
model: {parameterization: eps, network: {kind: mlp, hidden: [32, 32], embedding_dim: 16}}
objective: {kind: dsm, weighting: sigma2}
train: {steps: 40, batch_size: 64, lr: 2.0e-3, warmup: 5, compile: false, log_every: 5, checkpoint_every: 10}
sample: {sampler: em, steps: 5, n: 50, batch_size: 50}
eval: {metrics: [swd]}
"""
RUN_ARGS = ["--device", "cpu"]

# Runs train.py in a process that dies by SIGKILL inside its Nth checkpoint write, after the
# temporary file holds half a checkpoint and before the rename: the worst moment to die.
DYING_SAVE = textwrap.dedent("""
    import os, runpy, signal, sys
    import torch
    die_at, calls, real_save = int(os.environ["DIE_IN_SAVE"]), [0], torch.save

    def save(obj, f, *args, **kwargs):
        calls[0] += 1
        real_save(obj, f, *args, **kwargs)
        if calls[0] == die_at:
            os.truncate(f, os.path.getsize(f) // 2)
            os.kill(os.getpid(), signal.SIGKILL)

    torch.save = save
    script = sys.argv[1]
    sys.argv = sys.argv[1:]
    runpy.run_path(script, run_name="__main__")
""")


def compiled_dir(tmp_path, overrides=(), name="code") -> Path:
    code = tmp_path / name
    write_files(emit(compile_text(SPEC, list(overrides))), code)
    return code


def program(code: Path, script: str, out: Path, *extra, **popen) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-u", str(code / script), "--out", str(out), *RUN_ARGS, *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, **popen)


def strict_json(line: str):
    """json.loads that refuses Infinity and NaN (not JSON)."""
    def refuse(constant):
        raise AssertionError(f"non-standard JSON constant {constant} in {line!r}")
    return json.loads(line, parse_constant=refuse)


def events_of(run: Path) -> list[dict]:
    return [strict_json(line) for line in (run / "events.jsonl").read_text().splitlines()]


def train_steps(events):
    return [(e["step"], e["loss"]) for e in events if e["event"] == "train"]


def temporaries(run: Path) -> list[str]:
    return sorted(str(p.relative_to(run)) for p in run.rglob("*") if "tmp" in p.name)


def load(path):
    import torch

    return torch.load(path, weights_only=True)


def assert_same_checkpoint(a, b):
    import torch

    assert a["step"] == b["step"]
    for part in ("net", "ema"):
        for key in a[part]:
            assert torch.equal(a[part][key], b[part][key]), f"{part}.{key} differs"
    for index, moments in a["optimizer"]["state"].items():
        for name, value in moments.items():
            assert torch.equal(value, b["optimizer"]["state"][index][name]), f"optimizer {index}.{name} differs"
    assert torch.equal(a["generator"], b["generator"])


# ------------------------------------------------------------------------------ SIGKILL and resume


def test_sigkill_anywhere_resumes_bit_identically(tmp_path):
    """Kill train.py at random steps and inside a checkpoint write; rerun until it finishes: the
    weights, optimizer and generator equal an uninterrupted run's, the event log has each step once,
    and no temporary or partial file is left."""
    code = compiled_dir(tmp_path)
    reference = tmp_path / "reference"
    done = program(code, "train.py", reference)
    assert done.wait(timeout=300) == 0, done.stderr.read()

    run = tmp_path / "run"
    # 1. die inside the second checkpoint write (step 20): a half-written temporary is left
    env = {**os.environ, "DIE_IN_SAVE": "2"}
    dying = subprocess.run([sys.executable, "-c", DYING_SAVE, str(code / "train.py"), "--out", str(run), *RUN_ARGS],
                           env=env, capture_output=True, text=True, cwd=REPO, timeout=300)
    assert dying.returncode == -signal.SIGKILL
    stray = [p for p in (run / "checkpoints").iterdir() if p.name not in ("last.pt", "model.safetensors")]
    assert len(stray) == 1 and stray[0].name.startswith(".last.pt.") and stray[0].name.endswith(".scorec-tmp")
    assert load(run / "checkpoints" / "last.pt")["step"] == 10  # the last complete checkpoint, intact

    # 2. die at random steps (after the event of a step is out; seeded, so the test is repeatable)
    rng = random.Random(9)
    for _ in range(2):
        proc = program(code, "train.py", run)
        kill_at = rng.randrange(12, 39)
        for line in proc.stdout:
            if json.loads(line).get("step", 0) >= kill_at and '"train"' in line:
                proc.send_signal(signal.SIGKILL)
                break
        assert proc.wait(timeout=300) == -signal.SIGKILL
    # 3. finish
    finish = program(code, "train.py", run)
    assert finish.wait(timeout=300) == 0, finish.stderr.read()

    assert_same_checkpoint(load(run / "checkpoints" / "last.pt"), load(reference / "checkpoints" / "last.pt"))
    assert temporaries(run) == []
    events, expected = events_of(run), events_of(reference)
    steps = [step for step, _ in train_steps(events)]
    assert steps == sorted(set(steps)), "a resumed run repeated logged steps"
    assert train_steps(events) == train_steps(expected)  # same steps, bit-identical mean losses


def test_event_log_is_cut_back_to_the_checkpoint_and_torn_lines_dropped(tmp_path):
    programs = build(compile_text(SPEC), tmp_path)
    out = tmp_path / "run"
    programs.train.main(["--out", str(out), *RUN_ARGS, "--steps", "20"])
    log = out / "events.jsonl"
    # steps logged after the checkpoint (as if killed at step 27), and a torn last line
    log.write_text(log.read_text() + '{"event": "train", "step": 25, "loss": 1.0}\n{"event": "tra')
    programs.train.main(["--out", str(out), *RUN_ARGS])
    events = events_of(out)
    assert [s for s, _ in train_steps(events)] == [5, 10, 15, 20, 25, 30, 35, 40]


# ------------------------------------------------------------------------------ divergence


def test_divergence_names_the_first_bad_step_and_keeps_every_checkpoint_before_it(tmp_path, capsys):
    """The loss turns infinite at step 23 (checkpoints every 5, events every 10): the run stops
    at the next boundary, names step 23, wrote the checkpoints of steps 5..20 and none after."""
    import torch

    programs = build(compile_text(SPEC, ["train.checkpoint_every=5", "train.log_every=10"]), tmp_path)
    calls, saved = [0], []
    real_loss, real_save = programs.train.loss_fn, programs.runtime_training.atomic_save  # the Trainer's

    def loss_fn(model, x0, generator):
        calls[0] += 1
        loss = real_loss(model, x0, generator)
        return loss * torch.inf if calls[0] == 23 else loss

    def atomic_save(obj, path):
        saved.append(obj["step"])
        real_save(obj, path)

    programs.train.loss_fn, programs.runtime_training.atomic_save = loss_fn, atomic_save
    out = tmp_path / "run"
    with pytest.raises(SystemExit) as stopped:
        programs.train.main(["--out", str(out), *RUN_ARGS])
    assert stopped.value.code == programs.runtime.EXIT_DIVERGED
    err = capsys.readouterr().err
    assert "not finite from step 23 (stopped at step 25)" in err
    assert "keeps the weights of step 20" in err and err.count("\n") == 1
    assert saved == [5, 10, 15, 20]
    assert load(out / "checkpoints" / "last.pt")["step"] == 20
    events = events_of(out)  # standard JSON: no Infinity
    assert [step for step, _ in train_steps(events)] == [10, 20]  # no event after step 23 claims a loss
    assert events[-1] == {"event": "diverged", "step": 23, "time": events[-1]["time"]}


def test_overflowing_weighting_stops_at_step_1_through_scorec_run(tmp_path):
    run = tmp_path / "run"
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    result = CliRunner().invoke(app, ["run", str(spec), "--out", str(run), *RUN_ARGS,
                                      "--set", "objective.weighting=exp(100*t)", "--set", "train.steps=10"])
    assert result.exit_code == 1
    assert "not finite from step 1 " in result.stderr and "no checkpoint was written" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (run / "checkpoints" / "last.pt").exists()
    train = [e for e in events_of(run) if e["event"] == "train"]
    assert train[-1]["loss"] is None and train[-1]["finite"] is False


# ------------------------------------------------------------------------------ disk faults


def test_programs_on_an_out_that_is_a_file_exit_with_one_line(tmp_path):
    code = compiled_dir(tmp_path)
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for script in ("train.py", "sample.py"):
        proc = program(code, script, blocker)
        _, err = proc.communicate(timeout=300)
        assert proc.returncode == 4, err  # EXIT_IO
        assert err.startswith("error: cannot write the run directory") and err.count("\n") == 1, err


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_programs_on_a_read_only_out_exit_with_one_line(tmp_path):
    code = compiled_dir(tmp_path)
    out = tmp_path / "read-only"
    out.mkdir()
    out.chmod(0o555)
    try:
        for script in ("train.py", "sample.py"):
            proc = program(code, script, out)
            _, err = proc.communicate(timeout=300)
            assert proc.returncode == 4 and "Permission denied" in err and err.count("\n") == 1, err
    finally:
        out.chmod(0o755)


def _limit_file_size():
    resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))


def test_file_size_limit_and_unusable_checkpoints_dir_are_one_line_causes(tmp_path):
    """scorec run under `ulimit -f` (the checkpoint does not fit), and with checkpoints/ a file."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.replace("hidden: [32, 32]", "hidden: [256, 256]"))
    run = tmp_path / "limited"
    proc = subprocess.run([sys.executable, "-m", "scorec", "run", str(spec), "--out", str(run), *RUN_ARGS,
                           "--set", "train.steps=10"], capture_output=True, text=True, cwd=REPO, timeout=300,
                          preexec_fn=_limit_file_size)
    assert proc.returncode == 1, proc.stderr
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("error: train.py: cannot write the run directory") and "(exit 4;" in last, proc.stderr
    assert "File too large (over the file-size limit, ulimit -f, of 200000 bytes)" in last
    assert "Traceback" not in proc.stderr
    assert not (run / "checkpoints" / "last.pt").exists() and temporaries(run) == []

    run = tmp_path / "no-dir"
    run.mkdir()
    (run / "checkpoints").write_text("in the way")
    result = CliRunner().invoke(app, ["run", str(spec), "--out", str(run), *RUN_ARGS])
    assert result.exit_code == 1
    assert "error: train.py: cannot write the run directory" in result.stderr
    assert "Traceback" not in result.stderr


# ------------------------------------------------------------------------------ run directories


def test_a_second_run_on_a_locked_directory_says_who_holds_it(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    run = tmp_path / "run"
    with run_lock(run, "other-model"):
        result = CliRunner().invoke(app, ["run", str(spec), "--out", str(run), *RUN_ARGS])
    assert result.exit_code == 1
    assert f"in use by another scorec run (pid {os.getpid()}, started " in result.stderr
    assert "spec 'other-model'" in result.stderr
    assert sorted(p.name for p in run.iterdir()) == [".scorec.lock"]  # nothing else written


@pytest.mark.slow
def test_a_hand_run_beside_scorec_run_is_refused_and_writes_nothing(tmp_path):
    """train.py run by hand (with --fresh, which would delete the event log and start over) on a
    directory that `scorec run` is training in: exit 6 and one line naming the holder; every file of
    the directory, the lock's record included, unchanged. scorec run's own train.py runs inside its lock."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC)
    run = tmp_path / "run"
    # training outlasts the test, and writes nothing after its first event while the hand run tries
    forever = ["--set", "train.steps=100000000", "--set", "train.log_every=100000000",
               "--set", "train.checkpoint_every=100000000"]
    scorec_run = subprocess.Popen([sys.executable, "-m", "scorec", "run", str(spec), "--out", str(run), *RUN_ARGS,
                                   *forever], cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  start_new_session=True)
    try:
        for _ in range(3000):
            if (run / "events.jsonl").exists() and "train_start" in (run / "events.jsonl").read_text():
                break
            assert scorec_run.poll() is None, scorec_run.stderr.read().decode()
            time.sleep(0.1)
        before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file()}
        env = {k: v for k, v in os.environ.items() if k != "SCOREC_RUN_LOCK"}
        hand = subprocess.run([sys.executable, str(run / "code" / "train.py"), "--out", str(run), "--fresh",
                               *RUN_ARGS], capture_output=True, text=True, cwd=REPO, env=env, timeout=300)
        assert hand.returncode == 6, hand.stderr  # EXIT_IN_USE
        assert re.fullmatch(rf"error: {re.escape(str(run))} is in use by another scorec run \(pid {scorec_run.pid}, "
                            r"started [0-9: -]+, spec 'faults'\); wait for it to finish, or choose another --out\n",
                            hand.stderr), hand.stderr
        assert {p: p.read_bytes() for p in run.rglob("*") if p.is_file()} == before
        assert scorec_run.poll() is None  # still training
    finally:
        os.killpg(scorec_run.pid, signal.SIGKILL)  # scorec run and the train.py it started
        scorec_run.wait()


def test_another_models_run_directory_is_refused_before_anything_is_written(tmp_path):
    spec_a, spec_b = tmp_path / "a.yaml", tmp_path / "b.yaml"
    spec_a.write_text(SPEC.replace("steps: 40", "steps: 10"))
    spec_b.write_text(SPEC.replace("steps: 40", "steps: 10").replace("hidden: [32, 32]", "hidden: [16]"))
    run = tmp_path / "run"
    first = CliRunner().invoke(app, ["run", str(spec_a), "--out", str(run), *RUN_ARGS])
    assert first.exit_code == 0, first.stderr
    before = {p: p.read_bytes() for p in run.rglob("*") if p.is_file() and p.name != ".scorec.lock"}
    # a stale temporary from an earlier kill is cleaned on start, even when the run is refused
    (run / "checkpoints" / ".last.pt.abc123.scorec-tmp").write_bytes(b"")
    second = CliRunner().invoke(app, ["run", str(spec_b), "--out", str(run), *RUN_ARGS])
    assert second.exit_code == 1
    assert "holds the checkpoint of another model" in second.stderr and "nothing was changed" in second.stderr
    after = {p: p.read_bytes() for p in run.rglob("*") if p.is_file() and p.name != ".scorec.lock"}
    assert after == before


# ------------------------------------------------------------------------------ damaged checkpoints
# Every kind of damage is a unit test of runtime.load_checkpoint (tests/test_runtime.py); here, that
# train.py and sample.py go through it: an empty file (it once crashed them with an IndexError) and
# another model's weights.


def _damage(kind, path, state):
    import torch

    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "wrong-shapes":
        torch.save({**state, "net": {k: torch.zeros(3, *v.shape) for k, v in state["net"].items()}}, path)


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("damaged")
    programs = build(compile_text(SPEC, ["train.steps=10"]), root)
    programs.train.main(["--out", str(root / "run"), *RUN_ARGS])
    return programs, root / "run", load(root / "run" / "checkpoints" / "last.pt")


@pytest.mark.parametrize("kind, says", [("empty", "cannot read checkpoint {path}: the file is empty (0 bytes); "),
                                        ("wrong-shapes", "{path}: this checkpoint is not one of this model's: ")])
def test_damaged_checkpoints_are_refused_with_a_reason(kind, says, trained, tmp_path, capsys):
    programs, _, state = trained
    out = tmp_path / "run"
    (out / "checkpoints").mkdir(parents=True)
    path = out / "checkpoints" / "last.pt"
    _damage(kind, path, state)
    for reader in (programs.train, programs.sample):
        capsys.readouterr()
        with pytest.raises(SystemExit) as stopped:
            reader.main(["--out", str(out), *RUN_ARGS])
        err = capsys.readouterr().err
        assert stopped.value.code == programs.runtime.EXIT_CHECKPOINT, err
        assert says.format(path=path) in err and err.count("\n") == 1, err
