"""The emitted programs: golden records, determinism, and that they run.

Golden files pin the emitted code of five example specs (tests/golden/emitted/NAME/), two of
them `sde` processes (a closed-form kernel and a tabulated one); the runtime modules, the same for
every spec, are checked against templates/runtime*.py instead (their sha256s are in each golden
lock). Their spec.lock.json holds the resolved spec but not the installed versions of torch and
numpy: those describe the machine, not the spec (`scorec compile` and `scorec run` add them;
emit() without `versions` leaves them out). The `sde` records also hold numbers from numpy's float64
quadrature (the prior's std, the tables): on another CPU numpy's vectorised exp may differ
in the last bit; regenerate there and check that only last digits moved. After an
intended change to templates or lowering, regenerate them with

    SCOREC_UPDATE_GOLDEN=1 python -m pytest tests/test_emitted.py

and review the diff like code.
"""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from emitted import EXAMPLES, REPO, RUNTIME, build, compile_file
from scorec.emit.render import RUNTIME_MODULES, emit
from scorec.pipeline import compile_spec

GOLDEN = Path(__file__).parent / "golden" / "emitted"
GOLDEN_SPECS = ["swissroll_vp_pc", "eight_gaussians_ddpm_ancestral", "gmm_vp_analytic_pc",
                "gmm_sde_shifted_analytic_pc", "moons_sde_tables_em"]
UPDATE = os.environ.get("SCOREC_UPDATE_GOLDEN") == "1"
ALL_EXAMPLES = sorted(p.stem for p in EXAMPLES.glob("*.yaml"))
# Imported inside a function, only where a spec asks for what they provide (data files, decoders,
# the optional weights export, the run lock's POSIX-only fcntl, optimal-transport pairing): stdlib helpers of
# a loader, or an optional package with a clear message.
LAZY_IMPORTS = {"gzip", "importlib", "pickle", "sklearn", "PIL", "safetensors", "fcntl", "scipy", "torchdiffeq"}


@pytest.mark.parametrize("name", GOLDEN_SPECS)
def test_emitted_code_matches_golden(name):
    compiled = compile_spec(EXAMPLES / f"{name}.yaml")
    files = emit(compiled.ir, compiled.spec)
    # the runtime modules are templates/runtime*.py verbatim (not recorded again here; their sha256s are in the lock)
    for module in RUNTIME_MODULES:
        assert files.pop(module) == (REPO / "templates" / module).read_bytes().decode()
    folder = GOLDEN / name
    if UPDATE:
        folder.mkdir(parents=True, exist_ok=True)
        for stale in folder.iterdir():
            stale.unlink()
        for file, text in files.items():
            (folder / file).write_text(text)
    assert sorted(files) == sorted(p.name for p in folder.iterdir())
    for file, text in files.items():
        assert text == (folder / file).read_text(), f"{name}/{file} differs from its golden record"


def test_emission_is_byte_identical_across_processes(tmp_path):
    """Compile twice in fresh interpreters with different hash seeds: identical bytes."""
    spec = EXAMPLES / "swissroll_vp_pc.yaml"
    outs = []
    for seed in ("0", "12345"):
        out = tmp_path / seed
        env = {**os.environ, "PYTHONHASHSEED": seed}
        subprocess.run([sys.executable, "-m", "scorec.cli", "compile", str(spec), "-o", str(out)],
                       check=True, env=env, capture_output=True, cwd=REPO)
        outs.append({p.name: p.read_bytes() for p in out.iterdir()})
    assert outs[0] == outs[1]


@pytest.mark.parametrize("name", ALL_EXAMPLES)
def test_emitted_code_is_valid_python_without_scorec(name):
    for file, text in emit(compile_file(EXAMPLES / f"{name}.yaml")).items():
        if not file.endswith(".py"):
            continue
        tree = ast.parse(text, filename=file)
        imported = {alias.name.split(".")[0] for node in ast.walk(tree) if isinstance(node, ast.Import)
                    for alias in node.names}
        imported |= {node.module.split(".")[0] for node in ast.walk(tree)
                     if isinstance(node, ast.ImportFrom) and node.module}
        assert "scorec" not in imported, f"{name}/{file} imports scorec"
        assert imported <= {"torch", "numpy", "json", "math", "os", "sys", "time", "tempfile", "argparse", "copy",
                            "contextlib", "errno", "resource", "atexit", "common", "sample", *RUNTIME,
                            *LAZY_IMPORTS}
        top = {alias.name.split(".")[0] for node in tree.body if isinstance(node, ast.Import) for alias in node.names}
        top |= {node.module.split(".")[0] for node in tree.body if isinstance(node, ast.ImportFrom) and node.module}
        assert not top & LAZY_IMPORTS, f"{name}/{file} imports {sorted(top & LAZY_IMPORTS)} at the top level"


@pytest.mark.parametrize("name", ALL_EXAMPLES)
def test_every_example_trains_and_samples(name, tmp_path):
    """Each example's emitted programs run end to end (a few steps, few samples)."""
    overrides = ["train.steps=20", "train.compile=false", "train.log_every=5",
                 "sample.n=64", "sample.batch_size=32", "sample.steps=10"]
    ir = compile_file(EXAMPLES / f"{name}.yaml")
    if ir.data.kind == "mnist":  # loading 70000 images and a 28x28 U-Net take minutes on a CPU
        pytest.skip("the mnist example runs end to end in `scorec run`; tests/test_images.py loads its data")
    if not ir.trains:
        overrides = [o for o in overrides if not o.startswith("train.")]
    small = compile_file(EXAMPLES / f"{name}.yaml", overrides)
    programs = build(small, tmp_path)
    if programs.train is not None:
        programs.train.main(["--out", str(tmp_path), "--device", "cpu"])
        assert (tmp_path / "checkpoints" / "last.pt").exists()
    programs.sample.main(["--out", str(tmp_path), "--device", "cpu"])
    data = np.load(tmp_path / "samples.npz")
    assert data["samples"].shape == (64, *ir.data.shape)
    assert np.isfinite(data["samples"]).all()
    if small.sampler.nfe:  # the lowering's NFE count is what the sampler did
        assert int(data["nfe"]) == small.sampler.nfe
    else:  # 0: counted when sampling (an adaptive step, a guidance interval: tests/test_guidance.py)
        assert int(data["nfe"]) > 0


@pytest.mark.parametrize("name", ALL_EXAMPLES)
def test_emitted_code_is_pep8_clean(name, tmp_path):
    """Emitted code is for people too: pycodestyle finds nothing (lines up to 120)."""
    pycodestyle = pytest.importorskip("pycodestyle")
    files = emit(compile_file(EXAMPLES / f"{name}.yaml"))
    paths = []
    for file, text in files.items():
        if file.endswith(".py"):
            (tmp_path / file).write_text(text)
            paths.append(str(tmp_path / file))
    report = pycodestyle.StyleGuide(max_line_length=120, quiet=True).check_files(paths)
    assert report.total_errors == 0, report.get_statistics()


@pytest.mark.parametrize("name", ALL_EXAMPLES)
def test_emitted_code_has_no_pyflakes_warnings(name):
    """No unused or undefined names: every import from common.py is explicit and used."""
    api = pytest.importorskip("pyflakes.api")
    from pyflakes.reporter import Reporter
    import io

    for file, text in emit(compile_file(EXAMPLES / f"{name}.yaml")).items():
        if file.endswith(".py"):
            warnings, errors = io.StringIO(), io.StringIO()
            count = api.check(text, file, Reporter(warnings, errors))
            assert count == 0, warnings.getvalue() + errors.getvalue()


def test_torch_compile_path_runs(tmp_path):
    """train.compile: true (the default) compiles the loss and trains a few steps; sample.py then draws
    through the compiled network the samples the eager one draws, to float rounding."""
    ir = compile_file(EXAMPLES / "swissroll_vp_pc.yaml", ["train.steps=3", "train.log_every=1",
                                                           "sample.n=64", "sample.batch_size=64", "sample.steps=8"])
    programs = build(ir, tmp_path)
    programs.train.main(["--out", str(tmp_path), "--device", "cpu"])
    lines = (tmp_path / "events.jsonl").read_text().splitlines()
    assert '"compile": true' in lines[0]
    assert sum('"event": "train"' in line for line in lines) == 3
    drawn = {}
    for flags in ([], ["--no-compile"]):
        programs.sample.main(["--out", str(tmp_path), "--device", "cpu", *flags])
        drawn[bool(flags)] = np.load(tmp_path / "samples.npz")["samples"]
        events = (tmp_path / "sample_events.jsonl").read_text().splitlines()
        start = [line for line in events if '"event": "sample_start"' in line][-1]
        assert f'"compile": {"false" if flags else "true"}' in start, start
    # the same noise; the fused kernels only round differently (float32, |x| ~ 1, 16 network evaluations)
    np.testing.assert_allclose(drawn[False], drawn[True], rtol=0, atol=1e-4)
