"""The derivation cache of `sde` kernels (process/_derivation_cache.py, process/_kernel_cache.py):
the emitted bytes are the same with the cache off, cold and warm; a warm `check` imports
neither sympy nor numpy; a corrupt or tampered entry is ignored and rewritten."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from emitted import EXAMPLES, REPO
from scorec.core.diagnostics import SpecError
from scorec.emit.render import emit
from scorec.pipeline import compile_spec

SDE_EXAMPLES = ["gmm_sde_shifted_analytic_pc", "moons_sde_tables_em"]  # closed form; tables


def emitted(name: str) -> dict[str, str]:
    compiled = compile_spec(EXAMPLES / f"{name}.yaml")
    return emit(compiled.ir, compiled.spec)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    folder = tmp_path / "kernels"
    monkeypatch.setenv("SCOREC_KERNEL_CACHE", str(folder))
    return folder


@pytest.fixture(scope="module")
def uncached():
    """Each example's files with the cache turned off: the reference bytes."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("SCOREC_KERNEL_CACHE", "off")
        return {name: emitted(name) for name in SDE_EXAMPLES}


@pytest.mark.parametrize("name", SDE_EXAMPLES)
def test_emitted_bytes_are_the_same_off_cold_and_warm(name, cache, uncached):
    cold = emitted(name)
    [entry] = cache.iterdir()
    assert json.loads(entry.read_text())["value"]["tables"]
    warm = emitted(name)
    assert cold == uncached[name] and warm == uncached[name]


def test_a_warm_check_imports_neither_sympy_nor_numpy(cache):
    spec = EXAMPLES / "moons_sde_tables_em.yaml"
    code = ("import sys; from scorec.pipeline import compile_spec; compile_spec(sys.argv[1]); "
            "print(sorted(m for m in ('sympy', 'numpy') if m in sys.modules))")
    env = {"SCOREC_KERNEL_CACHE": str(cache), "PATH": "/usr/bin:/bin"}
    runs = [subprocess.run([sys.executable, "-c", code, str(spec)], capture_output=True, text=True, cwd=REPO,
                           env=env, check=True).stdout.strip() for _ in range(2)]
    assert runs == ["['numpy', 'sympy']", "[]"]


@pytest.mark.parametrize("name", SDE_EXAMPLES)
def test_a_cold_check_never_imports_sympy(name, cache):
    """`scorec check` validates only: the closed form, sympy's work, changes what is emitted,
    never whether the spec is valid, so a check with an empty cache does not search for it."""
    code = ("import sys; from scorec.pipeline import compile_spec; compile_spec(sys.argv[1], checking=True); "
            "print('sympy' in sys.modules)")
    env = {"SCOREC_KERNEL_CACHE": str(cache), "PATH": "/usr/bin:/bin"}
    out = subprocess.run([sys.executable, "-c", code, str(EXAMPLES / f"{name}.yaml")], capture_output=True,
                         text=True, cwd=REPO, env=env, check=True).stdout.strip()
    assert out == "False"


def test_check_finds_the_errors_compile_finds(tmp_path, cache):
    """Skipping the closed form loses no diagnostic: a kernel that blows up is refused by both."""
    spec = tmp_path / "bad.yaml"
    spec.write_text((EXAMPLES / "moons_sde_tables_em.yaml").read_text())
    overrides = ["process.equation=dx = -0.5 * x dt + 1 / (0.5 - t) dw"]
    messages = []
    for checking in (True, False):
        with pytest.raises(SpecError) as exc:
            compile_spec(spec, overrides, checking=checking)
        messages.append(exc.value.message)
    assert messages[0] == messages[1] and "not finite" in messages[0]


def _tamper_closed_form(value: dict) -> dict:
    value["closed"][1] = 0.25  # a well-formed but wrong variance: the check against the tables rejects it
    return value


def _tamper_table(value: dict) -> dict:
    value["tables"][0][2] = value["tables"][0][2][:-1]  # a table one point short
    return value


def _tamper_function(value: dict) -> dict:
    value["closed"][0] = ["call", "__import__", "t"]  # not an elementary function: never printed
    return value


@pytest.mark.parametrize("damage", [
    lambda text, value: "{not json",
    lambda text, value: text[: len(text) // 2],
    lambda text, value: json.dumps({"value": _tamper_closed_form(value)}),
    lambda text, value: json.dumps({"value": _tamper_table(value)}),
    lambda text, value: json.dumps({"value": _tamper_function(value)}),
    lambda text, value: json.dumps({"value": None}),
], ids=["not-json", "truncated", "wrong-closed-form", "short-table", "foreign-function", "null"])
def test_a_corrupt_entry_is_ignored_and_rewritten(damage, cache, uncached):
    name = "gmm_sde_shifted_analytic_pc"
    emitted(name)
    [entry] = cache.iterdir()
    good = entry.read_text()
    entry.write_text(damage(good, json.loads(good)["value"]))
    assert emitted(name) == uncached[name]
    assert entry.read_text() == good


def test_an_unwritable_cache_is_no_error(tmp_path, monkeypatch, uncached):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    monkeypatch.setenv("SCOREC_KERNEL_CACHE", str(blocker / "kernels"))  # under a file: cannot be created
    assert emitted("gmm_sde_shifted_analytic_pc") == uncached["gmm_sde_shifted_analytic_pc"]


def test_another_equation_is_another_entry(cache):
    spec = EXAMPLES / "gmm_sde_shifted_analytic_pc.yaml"
    a = compile_spec(spec).ir
    b = compile_spec(spec, ['process.where={beta: "0.1 + 10.0 * t"}']).ir
    assert len(list(cache.iterdir())) == 2
    assert a.process.prior_mean != b.process.prior_mean
