"""Diagnostic codes (scorec/core/codes.py): one table, and it holds.

* every code that the compiler names (a `"E0123"` anywhere under scorec/) is in the table,
  and every code in the table is named somewhere, and shows in a golden diagnostic (or, for
  scorec fmt's, in a test here): a code nothing raises goes;
* every code has a title and an explanation, and its example does what it says: the `bad`
  spec gives that code, the `good` one compiles;
* `scorec explain CODE` prints the long form (exit 0); an unknown code exits 2 with a
  "did you mean" or the list.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scorec.cli import app
from scorec.core.codes import CODES, explain, lookup
from scorec.core.diagnostics import SpecError, SpecErrors
from scorec.pipeline import compile_spec, errors_of
from scorec.tools.fmt import format_spec

REPO = Path(__file__).resolve().parent.parent
TABLE = REPO / "scorec" / "core" / "codes.py"
GOLDEN = REPO / "tests" / "diagnostics" / "golden"
NAMED = re.compile(r"[\"'](E\d{4})[\"']")
SHOWN = re.compile(r"error\[(E\d{4})\]")
FMT_ONLY = {"E0701"}  # raised by `scorec fmt --to score`, never by `scorec check`: checked below

runner = CliRunner()


def named_in_source() -> dict[str, set[str]]:
    """code -> the modules under scorec/ (the table aside) that name it."""
    named: dict[str, set[str]] = {}
    for path in (REPO / "scorec").rglob("*.py"):
        if path != TABLE:
            for code in NAMED.findall(path.read_text(encoding="utf-8")):
                named.setdefault(code, set()).add(str(path.relative_to(REPO)))
    return named


def test_every_code_named_in_the_compiler_is_in_the_table():
    unknown = {code: files for code, files in named_in_source().items() if code not in CODES}
    assert not unknown, unknown


def test_every_error_outside_the_components_names_its_code():
    """The default code (E0209, options that do not fit together) is for components' checks;
    the compiler's own stages name the kind of each mistake."""
    unnamed = []
    for path in (REPO / "scorec").rglob("*.py"):
        if "components" in path.parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "SpecError" and len(node.args) < 4 \
                    and not any(k.arg == "code" for k in node.keywords):
                unnamed.append(f"{path.relative_to(REPO)}:{node.lineno}")
    assert not unnamed, unnamed


def test_every_code_in_the_table_is_raised_somewhere():
    assert set(CODES) - set(named_in_source()) == set()
    shown = {code for golden in GOLDEN.glob("*.txt") for code in SHOWN.findall(golden.read_text(encoding="utf-8"))}
    assert shown <= set(CODES)
    assert set(CODES) - shown == FMT_ONLY, "a code no golden diagnostic shows: add a case to tests/diagnostics"


def test_every_code_is_explained():
    for code, entry in CODES.items():
        assert re.fullmatch(r"E\d{4}", code) and entry.code == code
        assert entry.title and len(entry.title) < 50, code
        assert len(entry.explanation) > 60, code
        text = explain(entry)
        assert text.startswith(f"{code}: {entry.title}\n") and entry.explanation in text and entry.bad.splitlines()[0] in text


# ---------------------------------------------------------------------------- the examples

MINIMAL = {"yaml": "scorec: 1\nname: demo\ndata: {source: moons}\nprocess: {kind: vp}\n",
           ".score": "scorec 1\nname demo\ndata moons {}\nprocess vp {}\n"}
TOP_KEY = {"yaml": re.compile(r"^([A-Za-z_]\w*):", re.M), ".score": re.compile(r"^([A-Za-z_]\w*)\b", re.M)}


def laid_over(snippet: str, form: str) -> str:
    """The minimal spec with the snippet's top-level keys in place of its own."""
    replaced = set(TOP_KEY[form].findall(snippet))
    kept = [line for line in MINIMAL[form].splitlines()
            if not (TOP_KEY[form].match(line) and TOP_KEY[form].match(line)[1] in replaced)]
    return "\n".join(kept) + "\n" + snippet + "\n"


def codes_of(snippet: str, form: str, tmp_path: Path) -> set[str]:
    """The codes `scorec check` (or `scorec fmt --to score`, form fmt) finds in an example."""
    spec = tmp_path / ("spec.score" if form == ".score" else "spec.yaml")
    own = form in ("yaml", ".score", "fmt")  # else the snippet is an override or a path, not spec text
    spec.write_text(laid_over(snippet, "yaml" if form == "fmt" else form) if own else MINIMAL["yaml"], encoding="utf-8")
    try:
        if form == "fmt":
            format_spec(spec, "score")
        elif form == "--set":
            compile_spec(spec, [snippet], checking=True)
        elif form == "file":
            compile_spec(tmp_path / snippet, checking=True)
        else:
            compile_spec(spec, checking=True)
    except (SpecError, SpecErrors) as exc:
        return {e.code for e in errors_of(exc)}
    return set()


@pytest.mark.parametrize("code", sorted(CODES))
def test_the_example_gives_its_code_and_the_fix_compiles(code, tmp_path):
    entry = CODES[code]
    assert code in codes_of(entry.bad, entry.form, tmp_path)
    if entry.good is not None:
        assert codes_of(entry.good, entry.form, tmp_path) == set()


# ---------------------------------------------------------------------------- scorec explain


def test_explain_prints_the_long_form():
    result = runner.invoke(app, ["explain", "E0205"])
    assert result.exit_code == 0 and result.stdout == explain(CODES["E0205"])
    assert "sample: {sampler: emm}" in result.stdout and "sample: {sampler: em}" in result.stdout
    assert lookup("e0205") is lookup("205") is CODES["E0205"]


def test_explain_without_a_code_lists_them_all():
    result = runner.invoke(app, ["explain"])
    assert result.exit_code == 0
    assert [line.split()[0] for line in result.stdout.splitlines()] == list(CODES)


def test_explain_an_unknown_code_exits_2():
    close = runner.invoke(app, ["explain", "E0299"])
    assert close.exit_code == 2 and close.stdout == ""
    assert re.search(r"no diagnostic code 'E0299'; did you mean E02\d\d\?", close.stderr)
    far = runner.invoke(app, ["explain", "nonsense"])
    assert far.exit_code == 2 and "no diagnostic code 'nonsense'" in far.stderr
    assert all(code in far.stderr for code in CODES)


def test_fmt_reports_its_code_in_the_spec_own_words(tmp_path):
    """E0701 through the CLI: `scorec fmt --to score` of a key .score cannot write."""
    spec = tmp_path / "spec.yaml"
    spec.write_text(laid_over(CODES["E0701"].bad, "yaml"), encoding="utf-8")
    result = runner.invoke(app, ["fmt", str(spec), "--to", "score"])
    assert result.exit_code == 2 and "error[E0701]: key 'b-2' cannot be written in .score" in result.stderr
    assert result.stderr.rstrip().endswith("(`scorec explain E0701` says more)")
