"""Golden files for diagnostics: what `scorec check` prints for a corpus of bad specs.

Each case is one small spec with one deliberate mistake:

* `tests/diagnostics/cases/NAME.yaml` is checked as is (`scorec check cases/NAME.yaml`),
  and so is `tests/diagnostics/cases/score_NAME.score`, a spec in the .score language;
* `tests/diagnostics/cases/NAME.set` holds `--set` overrides, one a line, applied to the
  valid `tests/diagnostics/base.yaml` (`scorec check base.yaml --set LINE ...`).

`tests/diagnostics/golden/NAME.txt` is exactly what the CLI writes to stderr, run from
`tests/diagnostics` (so paths in it are relative), followed by a line `exit: N`.

Regenerate every golden file after an intended change to a message, then review the
diff like code:

    SCOREC_UPDATE_GOLDEN=1 python -m pytest tests/test_diagnostics.py -q
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scorec.cli import app
from scorec.core.codes import CODES

HERE = Path(__file__).parent / "diagnostics"
CASES = sorted(p for p in (HERE / "cases").iterdir() if p.suffix in (".yaml", ".set", ".score"))
UPDATE = os.environ.get("SCOREC_UPDATE_GOLDEN") == "1"

# A rendered diagnostic starts `file:line:col: error[CODE]: ` (the file may be `--set #2`).
HEADER = re.compile(r"^(?P<file>[^\s:][^:]*):(?P<line>\d+):(?P<col>\d+): error\[(?P<code>E\d{4})\]: \S")
SUMMARY = re.compile(r"^\d+ errors? in \S+ \(`scorec explain (E\d{4}|CODE)` says more(: E\d{4}(, E\d{4})*)?\)$")
SOURCE = re.compile(r"^ *\d+ \| ")
CARET = re.compile(r"^ +\| *\^+$")

runner = CliRunner()


def argv(case: Path) -> list[str]:
    """The `scorec` arguments for a case, relative to tests/diagnostics."""
    if case.suffix == ".set":
        args = ["check", "base.yaml"]
        for line in case.read_text(encoding="utf-8").splitlines():
            args += ["--set", line]
        return args
    return ["check", f"cases/{case.name}"]


def invoke(args: list[str]):
    result = runner.invoke(app, args)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise result.exception  # a crash: show its traceback in the test report
    return result


@pytest.fixture
def in_diagnostics_dir(monkeypatch):
    monkeypatch.chdir(HERE)


def test_corpus_is_big_enough():
    assert len([c for c in CASES if c.suffix == ".yaml"]) >= 26
    assert len([c for c in CASES if c.suffix == ".set"]) >= 5
    assert len([c for c in CASES if c.suffix == ".score"]) >= 15


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_golden(case: Path, in_diagnostics_dir):
    result = invoke(argv(case))
    got = result.stderr + f"exit: {result.exit_code}\n"
    golden = HERE / "golden" / f"{case.stem}.txt"

    assert "Traceback" not in got
    assert result.stdout == "", "a spec error prints nothing on stdout"
    assert result.exit_code == 2, got

    # every line is part of a rendered diagnostic: a `file:line:col: error[CODE]:` header (every
    # diagnostic carries a code of the table), the source line, the caret, a hint, a blank
    # separator; then the summary line
    lines = result.stderr.splitlines()
    assert SUMMARY.match(lines[-1]), lines[-1]
    assert HEADER.match(lines[0]), f"diagnostic without file:line:col: {lines[0]!r}"
    headers = 0
    for line in lines[:-1]:
        m = HEADER.match(line)
        if m:
            headers += 1
            assert m["code"] in CODES, line
            assert not os.path.isabs(m["file"]), "goldens must not hold absolute paths"
            continue
        assert line == "" or SOURCE.match(line) or CARET.match(line) or line.startswith("  hint: "), line
    assert headers == int(lines[-1].split()[0]), "the summary counts the diagnostics"

    if UPDATE:
        golden.write_bytes(got.encode("utf-8"))
        return
    assert golden.exists(), f"no golden file {golden.name}; run with SCOREC_UPDATE_GOLDEN=1"
    assert got == golden.read_bytes().decode("utf-8")


def test_no_stale_goldens():
    names = {c.stem for c in CASES}
    stale = [g.name for g in (HERE / "golden").glob("*.txt") if g.stem not in names]
    if UPDATE:
        for name in stale:
            (HERE / "golden" / name).unlink()
        return
    assert not stale


def test_compile_bad_spec_writes_nothing(in_diagnostics_dir, tmp_path):
    out = tmp_path / "out"
    result = invoke(["compile", "cases/unknown_sampler.yaml", "-o", str(out)])
    assert result.exit_code == 2
    assert "cases/unknown_sampler.yaml:26:12: error[E0205]: unknown sampler 'emm'" in result.stderr
    assert not out.exists()


def test_compile_bad_override_writes_nothing(in_diagnostics_dir, tmp_path):
    out = tmp_path / "out"
    result = invoke(["compile", "base.yaml", "-o", str(out), "--set", "train.lr=-1"])
    assert result.exit_code == 2
    assert "--set #1:1:" in result.stderr
    assert not out.exists()


def test_valid_overrides_of_every_class_pass(in_diagnostics_dir):
    overrides = [
        "sample.steps=50",                        # integer
        "train.lr=1e-3",                          # float, exponent form (YAML 1.2)
        "train.compile=false",                    # boolean
        "model.network.time_embedding=sinusoidal",  # string
        "model.network.hidden=[64, 64, 64]",      # flow list
        "train.grad_clip=null",                   # null
        "eval.n_reference=2000",                  # a key absent from the file
        "data.means.2=[0.0, -2.5]",               # a list item by index
        "sample.corrector={kind: none}",          # flow mapping replacing a section
        "objective.weighting=sigma(t)**2",        # expression
        "name=gmm-vp-pc-50",                      # the top level
    ]
    args = ["check", "base.yaml"]
    for o in overrides:
        args += ["--set", o]
    result = invoke(args)
    assert result.exit_code == 0, result.stderr
    assert result.stderr == ""
    assert "ok (vp process, pc sampler, 51 NFE per sample)" in result.stdout
