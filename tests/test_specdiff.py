"""`scorec diff A B`: the semantic diff of two specs, its verdict and its exit codes.

The pairs live in tests/diff/ (base.yaml is the A side of most); tests/diff/golden/NAME.txt is
exactly what the CLI prints (stdout, then stderr, then the exit code), run from the
repository root. Regenerate after an intended change of wording, then review the diff:

    SCOREC_UPDATE_GOLDEN=1 python -m pytest tests/test_specdiff.py
"""

from __future__ import annotations

import os
import shlex
from pathlib import Path

import pytest
from typer.testing import CliRunner

from emitted import REPO
from scorec.cli import app
from scorec.pipeline import compile_spec
from scorec.tools.specdiff import MISSING, Change, diff_sides, field_changes, flatten, set_options, side_of

HERE = Path(__file__).parent / "diff"
GOLDEN = HERE / "golden"
UPDATE = os.environ.get("SCOREC_UPDATE_GOLDEN") == "1"
BASE = "tests/diff/base.yaml"
CASES = {  # name: (A, B, expected exit code)
    "identical_defaults_explicit": (BASE, "tests/diff/defaults_explicit.yaml", 0),
    "sample_steps": (BASE, "tests/diff/sample_steps.yaml", 1),
    "sampler_em": (BASE, "tests/diff/sampler_em.yaml", 1),
    "retrain": (BASE, "tests/diff/retrain.yaml", 1),
    "train_longer": (BASE, "tests/diff/train_longer.yaml", 1),
    "vp_to_sde": (BASE, "tests/diff/sde_vp.yaml", 1),
    "analytic_unused_train": ("tests/diff/analytic.yaml", "tests/diff/analytic_train.yaml", 1),
    "spec_error": (BASE, "tests/diff/bad.yaml", 2),
}


@pytest.fixture
def in_repo(monkeypatch):
    monkeypatch.chdir(REPO)  # goldens hold relative paths


def scorec_diff(a: str, b: str):
    result = CliRunner().invoke(app, ["diff", a, b])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"scorec diff {a} {b} crashed") from result.exception
    return result


@pytest.mark.parametrize("name", sorted(CASES))
def test_golden(name, in_repo):
    a, b, code = CASES[name]
    result = scorec_diff(a, b)
    assert result.exit_code == code, result.output
    got = f"{result.stdout}--- stderr\n{result.stderr}--- exit {result.exit_code}\n"
    golden = GOLDEN / f"{name}.txt"
    if UPDATE:
        golden.write_text(got, encoding="utf-8")
    assert golden.exists(), f"no golden file {golden.name}; run with SCOREC_UPDATE_GOLDEN=1"
    assert got == golden.read_text(encoding="utf-8")


def test_a_spec_against_itself_is_identical(in_repo):
    result = scorec_diff(BASE, BASE)
    assert result.exit_code == 0 and result.stdout.startswith("identical")


def test_errors_of_both_files_are_reported(in_repo):
    result = scorec_diff("tests/diff/bad.yaml", "tests/diff/bad.yaml")
    assert result.exit_code == 2
    assert result.stderr.count("2 errors in tests/diff/bad.yaml") == 2
    assert "Traceback" not in result.output and result.stdout == ""


def test_a_missing_file_is_a_spec_error(in_repo):
    result = scorec_diff(BASE, "tests/diff/no_such_spec.yaml")
    assert result.exit_code == 2 and "Traceback" not in result.output


def _side(path: str, overrides=()):
    return side_of(compile_spec(REPO / path, list(overrides)))


def test_reversed_diff_swaps_old_and_new():
    forward = diff_sides(_side(BASE), _side("tests/diff/sampler_em.yaml"))
    backward = diff_sides(_side("tests/diff/sampler_em.yaml"), _side(BASE))
    assert {(c.path, c.old, c.new) for c in forward.changes} == {(c.path, c.new, c.old) for c in backward.changes}
    assert forward.same_training and backward.same_training and not forward.same_program


@pytest.mark.parametrize("b", ["tests/diff/sample_steps.yaml", "tests/diff/sampler_em.yaml"])
def test_suggested_set_options_turn_a_into_b(b):
    """The verdict's `scorec sample RUN_DIR --set ...` really gives B's resolved spec from A's."""
    diff = diff_sides(_side(BASE), _side(b))
    words = shlex.split(set_options(diff))
    assert words[::2] == ["--set"] * (len(words) // 2)
    assert _side(BASE, words[1::2]).spec == _side(b).spec


def test_training_verdict_follows_the_hash_not_the_field_names():
    """A changed seed is outside `train`, yet it changes the weights: retrain."""
    diff = diff_sides(_side(BASE), _side(BASE, ["seed=7"]))
    assert [c.path for c in diff.changes] == ["seed"] and not diff.same_training


def test_flatten_and_changes_with_fields_only_one_side_has():
    old = {"sample": {"sampler": "pc", "steps": 10, "corrector": {"kind": "langevin"}}, "tags": []}
    new = {"sample": {"steps": 20, "sampler": "em"}, "tags": [], "where": {}}
    assert list(flatten(old)) == ["sample.sampler", "sample.steps", "sample.corrector.kind", "tags"]
    assert flatten(new)["where"] == {}
    assert field_changes(old, new) == [
        Change("sample.sampler", "pc", "em"), Change("sample.steps", 10, 20),
        Change("sample.corrector.kind", "langevin", MISSING), Change("where", MISSING, {})]
    assert field_changes({"x": 1}, {"x": 1.5}) == [Change("x", 1, 1.5)]
    assert field_changes({"x": True}, {"x": 1}) == [Change("x", True, 1)]  # equal in Python, not in a spec


def test_a_runs_resolved_spec_diffs_identical_with_its_source(tmp_path, in_repo):
    """RUN_DIR/spec.yaml (defaults explicit) resolves to the spec it came from: diff it with the
    original to see what a new spec would change in a run."""
    from scorec.run.jobs import write_run_spec

    for spec in (BASE, "tests/diff/sde_vp.yaml", "tests/diff/analytic.yaml"):
        write_run_spec(compile_spec(REPO / spec), tmp_path)
        result = scorec_diff(str(tmp_path / "spec.yaml"), spec)
        assert result.exit_code == 0, result.output
