"""The `.score` language and `scorec fmt` (DESIGN.md §5): same spec as YAML, same hash.

Every YAML example converts to .score and back without changing its data or its spec
hash; the committed .score examples are canonical and compile to the hash of their YAML
twins; fmt is idempotent in both formats; `--check` and `--write` behave as a pre-commit
hook needs; errors in .score files are located inside the .score file.
"""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from emitted import EXAMPLES
from scorec.cli import app
from scorec.core.diagnostics import SpecError
from scorec.core.ir import spec_hash
from scorec.frontend.score_loader import load_score
from scorec.frontend.score_printer import reads_back_bare, to_score
from scorec.frontend.yaml_loader import load_yaml
from scorec.frontend.yaml_printer import to_yaml
from scorec.pipeline import compile_spec
from scorec.schema.query import SPEC_LAYOUT
from scorec.tools.fmt import format_spec, same_data

YAML_EXAMPLES = sorted(EXAMPLES.glob("*.yaml"))
SCORE_EXAMPLES = sorted(EXAMPLES.glob("*.score"))
runner = CliRunner()


def invoke(*args):
    result = runner.invoke(app, [str(a) for a in args])
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"scorec {' '.join(map(str, args))} crashed") from result.exception
    return result


@pytest.fixture(scope="module")
def yaml_hashes() -> dict[str, str]:
    return {p.stem: spec_hash(compile_spec(p).ir) for p in YAML_EXAMPLES}


def test_committed_score_examples():
    """A few showcase twins are committed, at least one per process family shape."""
    names = {p.stem for p in SCORE_EXAMPLES}
    assert "swissroll_sde_pc" in names
    kinds = {load_score(p.read_bytes(), str(p), layout=SPEC_LAYOUT).data["process"]["kind"] for p in SCORE_EXAMPLES}
    assert {"sde", "vp", "discrete", "none"} <= kinds


@pytest.mark.parametrize("path", YAML_EXAMPLES, ids=lambda p: p.stem)
def test_every_yaml_example_converts_losslessly(path, tmp_path, yaml_hashes):
    score = tmp_path / f"{path.stem}.score"
    score.write_text(format_spec(path, "score").text, encoding="utf-8")
    assert same_data(load_score(score.read_bytes(), str(score), layout=SPEC_LAYOUT).data, load_yaml(path.read_bytes(), str(path)).data)
    assert spec_hash(compile_spec(score).ir) == yaml_hashes[path.stem]
    back = tmp_path / f"{path.stem}.yaml"
    back.write_text(format_spec(score, "yaml").text, encoding="utf-8")
    assert spec_hash(compile_spec(back).ir) == yaml_hashes[path.stem]


@pytest.mark.parametrize("path", SCORE_EXAMPLES, ids=lambda p: p.stem)
def test_committed_score_example_is_canonical_and_matches_its_twin(path, tmp_path, yaml_hashes):
    assert format_spec(path).text == path.read_text(encoding="utf-8")
    twin = path.with_suffix(".yaml")
    if twin.exists():
        assert spec_hash(compile_spec(path).ir) == yaml_hashes[path.stem]
    else:  # the DESIGN.md §5 example: its YAML conversion means the same program
        converted = tmp_path / "converted.yaml"
        converted.write_text(format_spec(path, "yaml").text, encoding="utf-8")
        assert spec_hash(compile_spec(converted).ir) == spec_hash(compile_spec(path).ir)


@pytest.mark.parametrize("path", YAML_EXAMPLES, ids=lambda p: p.name)
def test_committed_yaml_example_is_canonical(path):
    """The examples are what users copy: they are kept as `scorec fmt --write` leaves them."""
    assert format_spec(path).text == path.read_text(encoding="utf-8")


@pytest.mark.parametrize("path", YAML_EXAMPLES + SCORE_EXAMPLES, ids=lambda p: p.name)
@pytest.mark.parametrize("to", ["yaml", "score"])
def test_fmt_is_idempotent(path, to, tmp_path):
    once = tmp_path / f"once.{to}"
    once.write_text(format_spec(path, to).text, encoding="utf-8")
    assert format_spec(once).text == once.read_text(encoding="utf-8")


def test_yaml_fmt_keeps_comments_and_orders_keys(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("# header\nscorec: 1\nname: x\nsample: {steps: 10, sampler: em}  # few steps\n"
                    "data: {source: moons}\n# the process\nprocess: {kind: vp}\n", encoding="utf-8")
    text = format_spec(spec).text
    assert text == ("# header\nscorec: 1\nname: x\ndata: {source: moons}\n# the process\nprocess: {kind: vp}\n"
                    "sample: {sampler: em, steps: 10}  # few steps\n")


def test_yaml_comments_carry_into_score(tmp_path):
    spec = tmp_path / "spec.yaml"
    spec.write_text("# header\nscorec: 1\nname: x\ndata: {source: moons}  # two moons\nprocess:\n"
                    "  # the rate\n  kind: vp\n  beta_max: 20.0\n", encoding="utf-8")
    formatted = format_spec(spec, "score")
    assert formatted.text == ("# header\nscorec 1\nname x\n\ndata moons {}  # two moons\n"
                              "# the rate\nprocess vp { beta_max = 20.0 }\n")
    assert formatted.notes == []


@pytest.mark.parametrize("before", ["", "    # the corrector\n"])
def test_comments_on_kinds_and_nested_sections_stay_outside_braces(tmp_path, before):
    spec = tmp_path / "spec.yaml"
    spec.write_text("scorec: 1\nname: x\ndata: {source: moons}\nprocess: {kind: vp}\nsample:\n  sampler: pc\n"
                    f"  corrector:\n{before}    kind: langevin  # one step\n", encoding="utf-8")
    formatted = format_spec(spec, "score")
    assert formatted.text.endswith(f"sample pc {{\n{before[2:]}  corrector langevin {{}}  # one step\n}}\n")
    assert formatted.notes == []


def test_numbers_keep_their_spelling():
    text = "scorec 1\n\ntrain { steps = +10  lr = 2e-3  weight_decay = 1e2  ema = 0.9990 }\n"
    doc = load_score(text, "n.score", layout=SPEC_LAYOUT)
    assert to_score(doc.data, source=doc, layout=SPEC_LAYOUT) == text
    assert to_score(doc.data, layout=SPEC_LAYOUT) == "scorec 1\n\ntrain { steps = 10  lr = 0.002  weight_decay = 100.0  ema = 0.999 }\n"


def test_score_comments_survive_fmt():
    text = "# top\nscorec 1\nname x  # the name\n\ntrain {\n  # how long\n  steps = 5\n}\n# the end\n"
    doc = load_score(text, "x.score", layout=SPEC_LAYOUT)
    assert to_score(doc.data, doc.comments, doc.trailing, layout=SPEC_LAYOUT) == text


def test_the_same_model_in_both_formats_has_the_same_hash(tmp_path):
    """DESIGN §5's example against a YAML spec written by hand."""
    yaml = tmp_path / "s.yaml"
    yaml.write_text("""scorec: 1
name: swissroll-sde
seed: 0
data: {source: swiss_roll, n: 20000}
process:
  kind: sde
  equation: "dx = -0.5 * beta(t) * x dt + sqrt(beta(t)) dw"
  where: {beta: "0.1 + 19.9 * t"}
model: {parameterization: eps, network: {kind: mlp, hidden: [128, 128, 128], time_embedding: fourier}}
objective: {kind: dsm, weighting: "sigma(t)**2"}
train: {steps: 3000, batch_size: 512, lr: 2.0e-3}
sample: {sampler: pc, steps: 500, corrector: {kind: langevin, snr: 0.16}}
eval: {metrics: [mmd, swd, c2st, nn_ratio]}
""", encoding="utf-8")
    score = EXAMPLES / "swissroll_sde_pc.score"
    assert spec_hash(compile_spec(score).ir) == spec_hash(compile_spec(yaml).ir)


# ------------------------------------------------------------------------------ values and locations


@pytest.mark.parametrize("text, value", [
    ("1", 1), ("-2.5", -2.5), ("2e-3", 2e-3), ("1.0", 1.0), ("true", True), ("null", None), ('"1"', "1"),
    ("fourier", "fourier"), ("gmm-vp-pc-50", "gmm-vp-pc-50"), ("sigma(t)**2", "sigma(t)**2"),
    ('"a \\"b\\""', 'a "b"'), ("[[1, -2.0], []]", [[1, -2.0], []]), ("-.inf", float("-inf")),
])
def test_values(text, value):
    assert load_score(f"scorec 1\nv = {text}\n", "v.score", layout=SPEC_LAYOUT).data["v"] == value


@pytest.mark.parametrize("text", ["0", "1e5", "true", "null", "a b", " a", "x\n", "é", "", "a#b", "-.inf", "3d"])
def test_strings_that_would_read_back_otherwise_are_quoted(text):
    assert not reads_back_bare(text)
    doc = {"scorec": 1, "name": text}
    assert load_score(to_score(doc, layout=SPEC_LAYOUT), "n.score", layout=SPEC_LAYOUT).data == doc


def test_expression_errors_point_into_the_score_file(tmp_path):
    spec = tmp_path / "bad.score"
    spec.write_text((EXAMPLES / "swissroll_sde_pc.score").read_text().replace("sigma(t)**2", "sigma(t) ** foo"))
    with pytest.raises(SpecError) as info:
        compile_spec(spec)
    line = next(i for i, s in enumerate(spec.read_text().splitlines(), 1) if "foo" in s)
    col = spec.read_text().splitlines()[line - 1].index("foo") + 1
    assert (info.value.span.line, info.value.span.col) == (line, col)


def test_key_that_is_not_a_name_is_a_located_error():
    with pytest.raises(SpecError, match="cannot be written in .score"):
        to_score({"scorec": 1, "process": {"kind": "sde", "where": {"two words": "t"}}}, layout=SPEC_LAYOUT)
    with pytest.raises(SpecError, match="cannot be written in a .score section"):
        to_score({"scorec": 1, "train": {"dx": None}}, layout=SPEC_LAYOUT)  # `dx = null` would read back as an equation
    assert load_score(to_score({"scorec": 1, "dx": None}, layout=SPEC_LAYOUT), "t.score", layout=SPEC_LAYOUT).data == {"scorec": 1, "dx": None}


# ------------------------------------------------------------------------------ the CLI


def test_check_compile_ir_on_a_score_file(tmp_path):
    score = EXAMPLES / "gmm_vp_analytic_pc.score"
    result = invoke("check", score)
    assert result.exit_code == 0 and "ok (vp process, pc sampler" in result.stdout
    outs = {}
    for spec in (score, score.with_suffix(".yaml")):
        out = outs[spec.suffix] = tmp_path / spec.suffix[1:]
        result = invoke("compile", spec, "-o", out)
        assert result.exit_code == 0, result.stderr
    emitted = sorted(p.name for p in outs[".score"].iterdir())
    assert "sample.py" in emitted and emitted == sorted(p.name for p in outs[".yaml"].iterdir())
    for name in emitted:  # the same program, byte for byte
        assert (outs[".score"] / name).read_bytes() == (outs[".yaml"] / name).read_bytes(), name
    ir_score, ir_yaml = invoke("ir", score), invoke("ir", score.with_suffix(".yaml"))
    assert ir_score.exit_code == 0 and ir_score.stdout == ir_yaml.stdout


def test_set_overrides_work_on_score_specs():
    score = EXAMPLES / "gmm_vp_analytic_pc.score"
    result = invoke("check", score, "--set", "sample.steps=50", "--set", "data.means.2=[0.0, -2.5]")
    assert result.exit_code == 0 and "101 NFE per sample" in result.stdout  # 50 steps, a corrector step each
    result = invoke("check", score, "--set", "sample.stpes=50")
    assert result.exit_code == 2 and "--set #1:1:8: error[E0201]: unknown key 'stpes'" in result.stderr


def test_fmt_prints_canonical_text_by_default():
    result = invoke("fmt", EXAMPLES / "swissroll_sde_pc.score")
    assert result.exit_code == 0 and result.stdout == (EXAMPLES / "swissroll_sde_pc.score").read_text()


def test_fmt_check_exit_codes(tmp_path):
    assert invoke("fmt", "--check", EXAMPLES / "gmm_vp_analytic_pc.score").exit_code == 0
    messy = tmp_path / "messy.score"
    messy.write_text((EXAMPLES / "gmm_vp_analytic_pc.score").read_text().replace("seed 0\n", "seed   0\n"))
    result = invoke("fmt", "--check", messy)
    assert result.exit_code == 1 and "not in canonical form" in result.stderr
    bad = tmp_path / "bad.score"
    bad.write_text("scorec 1\ntrain { steps = }\n")
    result = invoke("fmt", "--check", bad)
    assert result.exit_code == 2 and f"{bad}:2:17: error[E0102]:" in result.stderr
    assert invoke("fmt", "--check", "--to", "yaml", messy).exit_code == 2


def test_fmt_write_rewrites_in_place_and_converts_beside(tmp_path):
    spec = tmp_path / "spec.yaml"
    canonical = (EXAMPLES / "gmm_ve_analytic_ode.yaml").read_text()
    assert "method: rk4}" in canonical
    spec.write_text(canonical.replace("steps: 100, n: 5000, method: rk4}", "method: rk4, n: 5000, steps: 100}"))
    before = spec.read_text()  # keys out of the schema's order
    assert invoke("fmt", "--write", spec).exit_code == 0
    assert spec.read_text() == format_spec(tmp_path / "spec.yaml").text != before
    assert invoke("fmt", "--check", spec).exit_code == 0
    result = invoke("fmt", "--write", "--to", "score", spec)
    assert result.exit_code == 0 and result.stdout.strip() == str(tmp_path / "spec.score")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["spec.score", "spec.yaml"]  # no temporaries left


def test_fmt_write_is_atomic(tmp_path, monkeypatch):
    spec = tmp_path / "spec.score"
    spec.write_text((EXAMPLES / "gmm_vp_analytic_pc.score").read_text().replace("seed 0", "seed  0"))
    before = spec.read_bytes()

    def refuse(*args):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    result = invoke("fmt", "--write", spec)
    assert result.exit_code == 1 and "No space left on device" in result.stderr
    assert spec.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["spec.score"]


def test_unknown_version_in_score_is_the_yaml_error(tmp_path):
    score, yaml = tmp_path / "v.score", tmp_path / "v.yaml"
    body = (EXAMPLES / "gmm_vp_analytic_pc.score").read_text().replace("scorec 1", "scorec 2")
    score.write_text(body)
    yaml.write_text((EXAMPLES / "gmm_vp_analytic_pc.yaml").read_text().replace("scorec: 1", "scorec: 2"))
    messages = [invoke("check", p).stderr.splitlines()[0].split(": error", 1)[1] for p in (score, yaml)]
    assert messages[0] == messages[1] == "[E0207]: spec format version 2 is newer than this scorec, which reads version 1"
    assert invoke("fmt", score).exit_code == 2


def test_yaml_conversion_quotes_what_would_read_back_otherwise():
    data = {"scorec": 1, "name": "yes", "eval": {"metrics": ["mmd"], "features": "1e3"}}
    assert same_data(load_yaml(to_yaml(data, layout=SPEC_LAYOUT), "x.yaml").data, data)
