"""`scorec eval RUN --metrics NAME,...`: the option becomes a generated --set, yet its mistakes are
located in the option's own text, with the registry's hint, exit 2 and no traceback."""

from __future__ import annotations

import shutil

import pytest
from typer.testing import CliRunner

from emitted import EXAMPLES
from scorec.cli import app
from scorec.tools.metrics_option import MetricsOption


@pytest.fixture
def run_dir(tmp_path):
    """What scorec eval reads before it evaluates: a run directory's spec.yaml and spec.lock.json (points data)."""
    shutil.copy(EXAMPLES / "swissroll_vp_pc.yaml", tmp_path / "spec.yaml")
    (tmp_path / "spec.lock.json").write_text("{}")
    return tmp_path


def scorec_eval(*args):
    result = CliRunner().invoke(app, ["eval", *map(str, args)])
    assert result.exception is None or isinstance(result.exception, SystemExit), "crashed"
    return result


def test_an_unknown_metric_is_located_in_the_option_with_the_registrys_hint(run_dir):
    result = scorec_eval(run_dir, "--metrics", "nope,c2t")
    assert result.exit_code == 2
    assert result.stderr.splitlines()[:4] == [
        "--metrics:1:11: error[E0206]: unknown metric 'nope' in --metrics",
        "   1 | --metrics nope,c2t",
        "     |           ^^^^",
        "  hint: one of: c2st, energy_distance, fid, is, kid, mmd, mode_tv, nll, nn_ratio, precision_recall, swd, "
        "vlb"]
    assert "--metrics:1:16: error[E0206]: unknown metric 'c2t' in --metrics" in result.stderr
    assert "  hint: did you mean 'c2st'?" in result.stderr
    assert "2 errors in --metrics" in result.stderr and "eval.metrics=[" not in result.stderr


def test_a_metric_that_does_not_fit_points_back_into_the_option(run_dir):
    """fid on points: the compiler's error (E0301) at the generated --set is moved onto the name as typed."""
    result = scorec_eval(run_dir, "--set", "eval.metrics=[swd]", "--metrics", "swd, fid,  is")
    assert result.exit_code == 2
    lines = result.stderr.splitlines()
    assert lines[:3] == ["--metrics:1:16: error[E0301]: metric 'fid' compares images, but this data's samples are "
                         "points of shape (2,)",
                         "   1 | --metrics swd, fid,  is",
                         "     |                ^^^"]
    assert "--metrics:1:22: error[E0301]: metric 'is' compares images" in result.stderr
    assert "--set #" not in result.stderr and "eval.metrics=[" not in result.stderr


def test_the_option_adds_only_what_eval_metrics_lacks():
    option = MetricsOption.parse(" nll,,swd ,nll")
    assert list(option.names) == ["nll", "swd"]
    assert option.text[option.names["swd"].col - 1:option.names["swd"].end_col - 1] == "swd"
    assert option.override(["swd", "mmd"]) == "eval.metrics=[swd, mmd, nll]"
    assert option.override(["nll", "swd"]) is None
    assert option.unknown() == []
