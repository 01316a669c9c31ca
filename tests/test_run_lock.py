"""spec.lock.json (resolved spec, hashes, versions) and what `scorec run` says when a run
directory's lock disagrees with the spec or the installed torch/numpy.

The run directories here are made by hand (a lock and a stand-in checkpoint): the decisions
under test are taken before any emitted program runs, so nothing is trained.
"""

from __future__ import annotations

import json
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

import pytest
from typer.testing import CliRunner

from emitted import REPO
from scorec.cli import app
from scorec.emit.lockfile import installed_versions, read_lock
from scorec.emit.render import emit, write_files
from scorec.pipeline import compile_spec
from scorec.run import jobs
from scorec.run.lockmismatch import environment_notes, lock_changes, lock_notes

DIFF = REPO / "tests" / "diff"


def make_run_dir(run: Path, spec: Path, versions: dict | None = None, with_spec: bool = True) -> Path:
    """A run directory as `scorec run` leaves it, as far as the lock check reads it."""
    compiled = compile_spec(spec)
    files = emit(compiled.ir, compiled.spec if with_spec else None, versions or installed_versions())
    write_files({"spec.lock.json": files["spec.lock.json"]}, run)
    jobs.write_run_spec(compiled, run)
    (run / "checkpoints").mkdir(parents=True)
    (run / "checkpoints" / "last.pt").write_bytes(b"stand-in: never loaded, the run is refused first")
    return run


def snapshot(run: Path) -> dict:
    return {p: p.read_bytes() for p in run.rglob("*") if p.is_file() and p.name != ".scorec.lock"}


@pytest.mark.parametrize("with_spec", [True, False], ids=["lock-with-spec", "older-lock-spec-yaml"])
def test_another_model_is_refused_with_the_changed_fields(tmp_path, with_spec):
    run = make_run_dir(tmp_path / "run", DIFF / "base.yaml", with_spec=with_spec)
    before = snapshot(run)
    result = CliRunner().invoke(app, ["run", str(DIFF / "retrain.yaml"), "--out", str(run), "--device", "cpu"])
    assert result.exit_code == 1
    err = result.stderr
    assert "holds the checkpoint of another model; nothing was changed" in err
    assert "    process.beta_max: 20.0 → 10.0\n    model.network.hidden: [64, 64] → [128, 128]\n" in err
    assert "--fresh" in err and "--out" in err and "Traceback" not in err
    assert snapshot(run) == before


def test_sampling_only_change_is_a_note_naming_scorec_sample(tmp_path):
    run = make_run_dir(tmp_path / "run", DIFF / "base.yaml")
    diff = lock_changes(compile_spec(DIFF / "sample_steps.yaml"), run)
    assert diff is not None and diff.same_training
    [note] = lock_notes(run, diff, fresh=False, has_checkpoint=True)
    assert "    sample.steps: 500 → 50\n" in note
    assert f"resample/re-evaluate only (scorec sample {run} --set sample.steps=50 " in note


def test_fresh_says_training_starts_over_whatever_changed(tmp_path):
    run = make_run_dir(tmp_path / "run", DIFF / "base.yaml")
    for other in ("sample_steps.yaml", "retrain.yaml"):
        diff = lock_changes(compile_spec(DIFF / other), run)
        [note] = lock_notes(run, diff, fresh=True, has_checkpoint=False)
        assert note.endswith("--fresh: training starts over") and " → " in note


def test_no_lock_means_a_new_run_without_notes(tmp_path):
    assert lock_changes(compile_spec(DIFF / "base.yaml"), tmp_path) is None
    assert lock_notes(tmp_path, None, fresh=False, has_checkpoint=False) == []


def test_other_torch_or_numpy_is_a_note_not_a_refusal(tmp_path):
    run = make_run_dir(tmp_path / "run", DIFF / "base.yaml", {**installed_versions(), "torch": "1.0.0"})
    [note] = environment_notes(run)
    assert f"torch 1.0.0 (now {version('torch')})" in note and "numpy " not in note.split("was run under")[1]
    same = make_run_dir(tmp_path / "same", DIFF / "base.yaml")
    assert environment_notes(same) == []


def test_a_run_that_goes_ahead_prints_its_notes(tmp_path, monkeypatch):
    """The wiring in scorec run: notes on stderr, then the run (its programs stubbed out here)."""
    ran = []
    monkeypatch.setattr(jobs, "run_program", lambda script, *args, **kw: ran.append(Path(script).name))
    monkeypatch.setattr(jobs, "evaluate", lambda *args, **kw: {"nfe": 0})
    run = make_run_dir(tmp_path / "run", DIFF / "base.yaml", {**installed_versions(), "numpy": "1.0.0"})
    result = CliRunner().invoke(app, ["run", str(DIFF / "sample_steps.yaml"), "--out", str(run), "--device", "cpu"])
    assert result.exit_code == 0, result.stderr
    assert "note: this spec differs from" in result.stderr and "sample.steps: 500 → 50" in result.stderr
    assert f"numpy 1.0.0 (now {version('numpy')})" in result.stderr
    assert ran == ["train.py", "sample.py"]
    assert read_lock(run)["spec"]["sample"]["steps"] == 50  # the lock now describes this spec


def test_compile_writes_resolved_spec_and_versions_into_the_lock(tmp_path):
    spec = DIFF / "base.yaml"
    assert CliRunner().invoke(app, ["compile", str(spec), "-o", str(tmp_path)]).exit_code == 0
    lock = read_lock(tmp_path)
    stage = CliRunner().invoke(app, ["ir", "--stage", "spec", str(spec)]).stdout
    assert lock["spec"] == json.loads(stage)
    assert lock["versions"] == {"scorec": lock["scorec_version"], "torch": version("torch"),
                                "numpy": version("numpy")}


def test_reading_versions_imports_neither_torch_nor_numpy():
    code = ("import sys; from scorec.emit.lockfile import installed_versions; v = installed_versions(); "
            "assert v['torch'] and 'torch' not in sys.modules and 'numpy' not in sys.modules, v")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=REPO)
