"""The `scorec` command line (DESIGN.md §4): commands, exit codes, what each one writes.

Most commands run in-process through typer's CliRunner; where a real process matters
(the compiler path must not import torch; a failing run must end with a clean message
rather than a traceback from scorec) they run as `python -m scorec.cli` subprocesses.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from emitted import EXAMPLES, REPO, compile_file
from scorec.cli import app
from scorec.core.ir import spec_hash
from scorec.emit.render import RUNTIME_MODULES

ALL_EXAMPLES = sorted(EXAMPLES.glob("*.yaml"))
GMM = EXAMPLES / "gmm_vp_analytic_pc.yaml"
SWISSROLL = EXAMPLES / "swissroll_vp_pc.yaml"
QUICK_SAMPLE = ["--set", "sample.steps=50", "--set", "sample.n=500", "--set", "sample.batch_size=500",
                "--set", "eval.nll.n=300"]
QUICK_TRAIN = ["--set", "train.steps=20", "--set", "train.compile=false", "--set", "train.log_every=5",
               "--set", "sample.steps=5", "--set", "sample.n=100", "--set", "sample.batch_size=100"]


def invoke(*args: str):
    result = CliRunner().invoke(app, [str(a) for a in args])
    # an exception other than the SystemExit of typer.Exit is a crash, whatever the exit code says
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise AssertionError(f"scorec {' '.join(map(str, args))} crashed") from result.exception
    return result


def scorec_process(*args: str, cwd=REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "scorec.cli", *map(str, args)], capture_output=True, text=True,
                          cwd=cwd, timeout=300)


def header_hash(text: str) -> str:
    match = re.search(r"^# spec hash: ([0-9a-f]{64})$", text, re.MULTILINE)
    assert match, "emitted file lacks its '# spec hash:' header line"
    return match.group(1)


def read_events(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# ------------------------------------------------------------------------------ check, compile, ir, schema


@pytest.mark.parametrize("spec", ALL_EXAMPLES, ids=lambda p: p.stem)
def test_check_accepts_every_example(spec):
    result = invoke("check", spec)
    assert result.exit_code == 0, result.stderr
    assert result.stdout.startswith(f"{spec}: ok")
    ir = compile_file(spec)
    assert f"{ir.sampler.nfe} NFE per sample" in result.stdout
    assert result.stderr == ""


@pytest.mark.parametrize("spec", ALL_EXAMPLES, ids=lambda p: p.stem)
def test_compile_writes_exactly_the_programs_and_ir_hash_matches(spec, tmp_path):
    out = tmp_path / "out"
    result = invoke("compile", spec, "-o", out)
    assert result.exit_code == 0, result.stderr
    ir = compile_file(spec)
    expected = {"common.py", *RUNTIME_MODULES, "sample.py", "spec.lock.json"} | ({"train.py"} if ir.trains else set()) \
        | ({"likelihood.py"} if ir.eval.likelihood is not None else set())
    assert {p.name for p in out.iterdir()} == expected  # no temporary files left behind
    assert sorted(Path(line).name for line in result.stdout.splitlines()) == sorted(expected)

    dumped = invoke("ir", spec)
    assert dumped.exit_code == 0, dumped.stderr
    ir_dump = json.loads(dumped.stdout)
    assert ir_dump["spec_hash"] == spec_hash(ir)
    assert ir_dump["sampler"]["nfe"] == ir.sampler.nfe
    for name in expected - {"spec.lock.json", *RUNTIME_MODULES}:
        assert header_hash((out / name).read_text()) == ir_dump["spec_hash"], name
    for name in RUNTIME_MODULES:
        assert (out / name).read_bytes() == (REPO / "templates" / name).read_bytes()  # verbatim
    lock = json.loads((out / "spec.lock.json").read_text())
    assert lock["spec_hash"] == ir_dump["spec_hash"]


def test_ir_follows_overrides():
    base = json.loads(invoke("ir", GMM).stdout)
    changed = json.loads(invoke("ir", GMM, *QUICK_SAMPLE).stdout)
    assert changed["sampler"]["steps"] == 50 and changed["sampler"]["n"] == 500
    assert changed["sampler"]["nfe"] == 50 * (1 + 1) + 1  # pc, one Langevin corrector step, denoise
    assert changed["spec_hash"] != base["spec_hash"]


def test_switching_the_sampler_by_override_drops_the_old_samplers_keys():
    """--set sample.sampler=ode on a pc spec drops `corrector` (pc's key) with a note;
    a key the user sets on the command line is never dropped, so a mismatch still errors."""
    switched = invoke("ir", GMM, "--set", "sample.sampler=ode", "--set", "sample.method=rk4")
    assert switched.exit_code == 0, switched.stderr
    assert "note: --set sample.sampler=ode drops sample.corrector" in switched.stderr
    ir = json.loads(switched.stdout)
    assert ir["sampler"]["kind"] == "ode" and ir["sampler"]["method"] == "rk4" and "corrector" not in ir["sampler"]
    kept = invoke("check", GMM, "--set", "sample.sampler=ode", "--set", "sample.corrector.snr=0.1")
    assert kept.exit_code == 2 and "unknown key 'corrector' in sample" in kept.stderr


def _refs(node):
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "$ref":
                yield value
            else:
                yield from _refs(value)
    elif isinstance(node, list):
        for value in node:
            yield from _refs(value)


def _consts(node):
    if isinstance(node, dict):
        if "const" in node:
            yield node["const"]
        for value in node.get("enum", []):
            yield value
        for value in node.values():
            yield from _consts(value)
    elif isinstance(node, list):
        for value in node:
            yield from _consts(value)


def test_schema_is_json_schema_naming_the_samplers():
    result = invoke("schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["type"] == "object"
    assert {"scorec", "name", "data", "process", "sample"} <= set(schema["properties"])
    assert "scorec" in schema["required"]
    assert schema.get("additionalProperties") is False  # unknown keys are errors
    for ref in _refs(schema):  # every reference resolves inside the document
        assert ref.startswith("#/$defs/") and ref.split("/")[-1] in schema["$defs"], ref
    tags = set(_consts(schema))
    assert {"em", "pc", "ode", "ancestral", "ddim"} <= tags
    assert {"vp", "subvp", "ve", "discrete"} <= tags


def test_compiler_path_never_imports_torch(tmp_path):
    code = f"""
import sys
from scorec.cli import app
for args in (["check", {str(GMM)!r}], ["check", {str(SWISSROLL)!r}],
             ["compile", {str(SWISSROLL)!r}, "-o", {str(tmp_path / "out")!r}],
             ["ir", {str(SWISSROLL)!r}, "--set", "sample.steps=7"], ["schema"]):
    app(args, standalone_mode=False)
bad = sorted(m for m in sys.modules if m == "torch" or m.startswith("torch."))
assert not bad, bad
print("clean")
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("clean")
    assert (tmp_path / "out" / "train.py").exists()


# ------------------------------------------------------------------------------ spec errors: exit 2, nothing written

BAD_SPECS = {
    "unknown-key": (
        "scorec: 1\nname: bad\ndata: {source: swiss_roll}\nprocess: {kind: vp, beta_maxx: 20.0}\n",
        (4, "beta_maxx"),
    ),
    "ddim-with-vp": (
        "scorec: 1\nname: bad\ndata: {source: swiss_roll}\nprocess: {kind: vp}\nsample: {sampler: ddim}\n",
        (5, "ddim"),
    ),
    "complex-weighting": (  # (-t) ** 0.5 is complex in Python: a domain error, not a crash
        "scorec: 1\nname: bad\ndata: {source: swiss_roll}\nprocess: {kind: vp}\n"
        "objective: {kind: dsm, weighting: '(0-t)**0.5'}\n",
        (5, "weighting"),
    ),
    "yaml-syntax": ("scorec: 1\nname: bad\ndata: {source: swiss_roll\nprocess: {kind: vp}\n", (None, "")),
}


@pytest.mark.parametrize("case", sorted(BAD_SPECS))
@pytest.mark.parametrize("command", ["check", "compile", "run", "ir"])
def test_spec_errors_exit_2_and_write_nothing(case, command, tmp_path):
    text, (line, word) = BAD_SPECS[case]
    spec = tmp_path / "bad.yaml"
    spec.write_text(text)
    out = tmp_path / "out"
    args = {"check": [], "ir": [], "compile": ["-o", out], "run": ["--out", out, "--device", "cpu"]}[command]
    result = invoke(command, spec, *args)
    assert result.exit_code == 2
    assert not out.exists()
    assert result.stdout == ""
    assert re.search(rf"^{re.escape(str(spec))}:\d+:\d+: error\[E\d{{4}}\]: ", result.stderr, re.MULTILINE), result.stderr
    if line is not None:
        assert f"{spec}:{line}:" in result.stderr
    assert word in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_override_exits_2_before_writing(tmp_path):
    out = tmp_path / "run"
    result = invoke("run", GMM, "--out", out, "--set", "sample.stepz=5")
    assert result.exit_code == 2
    assert "--set #1" in result.stderr
    assert "steps" in result.stderr  # did-you-mean hint
    assert not out.exists()


def test_spec_error_in_a_real_process(tmp_path):
    spec = tmp_path / "bad.yaml"
    spec.write_text(BAD_SPECS["ddim-with-vp"][0])
    proc = scorec_process("compile", spec, "-o", tmp_path / "out")
    assert proc.returncode == 2
    assert "error[E0301]:" in proc.stderr and "Traceback" not in proc.stderr
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------ run


def test_run_analytic_end_to_end(tmp_path):
    run_dir = tmp_path / "run"
    result = invoke("run", GMM, *QUICK_SAMPLE, "--out", run_dir, "--device", "cpu")
    assert result.exit_code == 0, result.stderr
    metrics = json.loads((run_dir / "metrics.json").read_text())
    for key in ("nfe", "mmd", "mmd_pvalue", "swd", "mode_tv", "finite_fraction", "nll", "nll_se", "nll_true"):
        assert isinstance(metrics[key], (int, float)) and not isinstance(metrics[key], bool), key
        assert math.isfinite(metrics[key]), key
    assert json.loads(result.stdout) == metrics  # the command prints what it wrote
    ir_nfe = json.loads(invoke("ir", GMM, *QUICK_SAMPLE).stdout)["sampler"]["nfe"]
    assert metrics["nfe"] == ir_nfe == 101
    assert metrics["finite_fraction"] == 1.0
    assert 0.0 <= metrics["mmd_pvalue"] <= 1.0 and 0.0 <= metrics["mode_tv"] <= 1.0
    assert metrics["mode_tv"] < 0.2 and metrics["swd"] < 0.5  # exact score, 50 PC steps: close to the data
    assert abs(metrics["nll"] - metrics["nll_true"]) < 0.01 and metrics["nll_n"] == 300  # the exact score's own
    samples = np.load(run_dir / "samples.npz")
    assert samples["samples"].shape == (500, 2)
    assert int(samples["nfe"]) == ir_nfe
    assert (run_dir / "samples.png").stat().st_size > 0
    lock = json.loads((run_dir / "spec.lock.json").read_text())
    assert lock["ir"]["sampler"]["steps"] == 50
    assert not (run_dir / "checkpoints").exists() and not (run_dir / "events.jsonl").exists()  # nothing trained


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A swiss-roll run trained for 20 steps; returns (run dir, its events after the first run)."""
    run_dir = tmp_path_factory.mktemp("trained") / "run"
    result = invoke("run", SWISSROLL, *QUICK_TRAIN, "--out", run_dir, "--device", "cpu")
    assert result.exit_code == 0, result.stderr
    return run_dir, read_events(run_dir / "events.jsonl")


def _train_events(events):
    return [e for e in events if e.get("event") == "train"]


def test_run_trains_and_logs(trained_run):
    run_dir, events = trained_run
    assert events[0]["event"] == "train_start" and events[0]["step"] == 0
    train = _train_events(events)
    assert [e["step"] for e in train] == [5, 10, 15, 20]
    for e in train:
        for key in ("step", "loss", "lr", "time"):
            assert isinstance(e[key], (int, float)) and math.isfinite(e[key]), key
    assert (run_dir / "loss.png").stat().st_size > 0
    assert (run_dir / "checkpoints" / "last.pt").exists()
    assert np.load(run_dir / "samples.npz")["samples"].shape == (100, 2)
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert metrics["nfe"] == 5 * 2 + 1


def test_run_again_resumes_and_fresh_retrains(trained_run, tmp_path):
    source, first = trained_run
    run_dir = tmp_path / "run"
    shutil.copytree(source, run_dir)

    result = invoke("run", SWISSROLL, *QUICK_TRAIN, "--out", run_dir, "--device", "cpu")
    assert result.exit_code == 0, result.stderr
    events = read_events(run_dir / "events.jsonl")
    assert events[: len(first)] == first  # appended, not rewritten
    new = events[len(first):]
    assert new[0]["event"] == "train_start" and new[0]["step"] == 20
    assert _train_events(new) == []  # nothing left to train

    result = invoke("run", SWISSROLL, *QUICK_TRAIN, "--out", run_dir, "--device", "cpu", "--fresh")
    assert result.exit_code == 0, result.stderr
    events = read_events(run_dir / "events.jsonl")
    assert events[0]["event"] == "train_start" and events[0]["step"] == 0
    assert [e["step"] for e in _train_events(events)] == [5, 10, 15, 20]
    # same seed, same program: retraining from scratch reproduces the losses
    assert [e["loss"] for e in _train_events(events)] == pytest.approx([e["loss"] for e in _train_events(first)],
                                                                        rel=1e-5)


def test_corrupt_checkpoint_is_a_runtime_error(trained_run, tmp_path):
    source, _ = trained_run
    run_dir = tmp_path / "run"
    shutil.copytree(source, run_dir)
    (run_dir / "checkpoints" / "last.pt").write_bytes(b"this is not a checkpoint \x00\x01\x02" * 10)
    proc = scorec_process("run", SWISSROLL, *QUICK_TRAIN, "--out", run_dir, "--device", "cpu")
    assert proc.returncode == 1, proc.stderr
    assert "train.py" in proc.stderr
    assert str(run_dir / "logs") in proc.stderr
    # the emitted program's traceback is quoted from logs/, but scorec itself does not crash
    scorec_frames = [line for line in proc.stderr.splitlines()
                     if line.strip().startswith("File ") and f"{os.sep}scorec{os.sep}" in line]
    assert scorec_frames == []
    assert proc.stderr.rstrip().splitlines()[-1]  # ends with a readable line (the error's tail)
    assert (run_dir / "logs" / "train.stderr").read_text().strip()


def test_unwritable_output_is_a_plain_error(tmp_path):
    """An output path that is a file: exit 1 and one line, no traceback."""
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for command in (["compile", GMM, "-o", blocker], ["run", GMM, "--out", blocker, *QUICK_SAMPLE]):
        result = invoke(*command)
        assert result.exit_code == 1
        assert result.stderr.startswith("error: cannot write") and "Traceback" not in result.stderr


def test_spec_stage_dump_states_every_default():
    """`scorec ir --stage spec` shows the validated spec with defaults explicit; validating
    that dump again gives the same IR (the dump is a complete, canonical spec)."""
    result = invoke("ir", GMM, "--stage", "spec")
    assert result.exit_code == 0
    dumped = json.loads(result.stdout)
    assert dumped["sample"]["corrector"]["snr"] == 0.16 and dumped["train"]["ema"] == 0.999
    from scorec.pipeline import compile_spec
    from emitted import compile_text

    again = compile_text(json.dumps(dumped))
    assert canonical(again) == canonical(compile_spec(GMM).ir)
    assert invoke("ir", GMM, "--stage", "tokens").exit_code == 2


def canonical(ir):
    from scorec.core.ir import canonical_json

    return canonical_json(ir)


def test_installed_console_script_finds_its_templates(tmp_path):
    """The `scorec` on PATH beside this interpreter, run outside the checkout, imports the
    installed package (a wheel in CI): its templates and grammar must have shipped with it."""
    script = Path(sys.executable).parent / "scorec"
    if not script.exists():
        pytest.skip("scorec is not installed beside this interpreter")
    out = tmp_path / "out"
    result = subprocess.run([str(script), "compile", str(REPO / "spec_examples" / "moons_ve_ode.yaml"), "-o", str(out)],
                            capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(["common.py", "likelihood.py", *RUNTIME_MODULES, "sample.py", "spec.lock.json", "train.py"])


# ------------------------------------------------------------------------------ sample, eval


def assert_self_contained(html):
    """report.html opens offline: every src/href and CSS url() is embedded data (or a #fragment),
    and nothing is imported or linked in."""
    refs = re.findall(r"""(?:src|href)\s*=\s*["']([^"']*)["']""", html, flags=re.I)
    refs += re.findall(r"""url\(\s*["']?([^"')]*)""", html, flags=re.I)
    assert refs, "no embedded pictures found"
    assert all(ref.startswith(("data:", "#")) for ref in refs), [r[:60] for r in refs if not r.startswith("data:")]
    assert not re.search(r"<link\b|@import|<script[^>]*\bsrc|<iframe\b", html, flags=re.I)


def test_sample_and_eval_a_finished_run(tmp_path):
    """scorec run writes spec.yaml and report.html; scorec sample resamples with new settings,
    refuses settings that change the model; scorec eval re-evaluates; both honour the lock."""
    from scorec.run.lock import run_lock

    run_dir = tmp_path / "run"
    result = invoke("run", SWISSROLL, "--out", run_dir, *QUICK_TRAIN)
    assert result.exit_code == 0, result.stderr
    assert (run_dir / "spec.yaml").is_file()
    html = (run_dir / "report.html").read_text()
    assert html.count("data:image/png;base64,") >= 3 and "<table>" in html and "swissroll-vp" in html
    assert_self_contained(html)

    result = invoke("sample", run_dir, "--set", "sample.n=60", "--set", "sample.batch_size=60")
    assert result.exit_code == 0, result.stderr
    assert np.load(run_dir / "samples.npz")["samples"].shape == (60, 2)

    result = invoke("eval", run_dir, "--set", "eval.metrics=[c2st, energy_distance]")
    assert result.exit_code == 0, result.stderr
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert {"c2st", "c2st_pvalue", "energy_distance"} <= set(metrics) and "mmd" not in metrics

    # a model setting through scorec sample: refused before anything is written (exit 2)
    assert invoke("sample", run_dir, "--set", "model.network.hidden=[8]").exit_code == 2
    # image metrics on points: a located spec error
    bad = invoke("eval", run_dir, "--set", "eval.metrics=[fid]")
    assert bad.exit_code == 2 and "--set #1:1:15: error[E0301]: metric 'fid'" in bad.stderr
    with run_lock(run_dir, "holder"):
        locked = invoke("eval", run_dir)
    assert locked.exit_code == 1 and "in use by another scorec run" in locked.stderr
    assert invoke("eval", tmp_path).exit_code == 1  # not a run directory


def test_eval_adds_the_likelihood_to_a_finished_run(tmp_path):
    """scorec eval RUN_DIR --metrics nll: the likelihood of the run's model joins its other metrics, with a
    progress bar, the report's paragraph (value, SE, solver settings) and likelihood.py in code/."""
    run_dir = tmp_path / "run"
    result = invoke("run", GMM, *QUICK_SAMPLE, "--set", "eval.metrics=[swd]", "--out", run_dir, "--device", "cpu")
    assert result.exit_code == 0, result.stderr
    assert "nll" not in json.loads((run_dir / "metrics.json").read_text())
    assert not (run_dir / "code" / "likelihood.py").exists()
    result = invoke("eval", run_dir, "--metrics", "nll", "--set", "eval.nll.n=200", "--set", "eval.nll.rtol=1.0e-4",
                    "--device", "cpu")
    assert result.exit_code == 0, result.stderr
    metrics = json.loads((run_dir / "metrics.json").read_text())
    assert {"swd", "nll", "nll_se", "nll_nfe", "nll_seconds", "nll_true"} <= set(metrics)  # swd kept
    assert metrics["nll_n"] == 200 and abs(metrics["nll"] - metrics["nll_true"]) < 0.01
    assert "likelihood" in result.stderr and "200/200" in result.stderr  # the progress bar
    assert (run_dir / "code" / "likelihood.py").is_file()
    html = (run_dir / "report.html").read_text()
    assert "<h2>Likelihood</h2>" in html and "rtol 0.0001" in html and "exact divergence" in html
    from ruamel.yaml import YAML

    assert YAML(typ="safe").load((run_dir / "spec.yaml").read_text())["eval"]["metrics"] == ["swd", "nll"]
    bad = invoke("eval", run_dir, "--metrics", "vlb")
    assert bad.exit_code == 2 and "metric 'vlb' is the variational bound of a discrete chain" in bad.stderr
