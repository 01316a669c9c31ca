"""One spec, one program: an `sde` kernel's derivation (closed form by parts or by Risch, or
quadrature tables) is decided by the expressions alone (process/_symbolic.integrate), so the
emitted bytes do not depend on the hash seed (sympy's term order) nor on how fast the machine
is. Two fresh processes, the kernel cache off, compile the same specs: one with another
PYTHONHASHSEED and every Python call slowed by a profiler (a loaded machine; the old rule, a
sympy time budget, turned closed forms into tables there). Their files must be identical."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from emitted import EXAMPLES, REPO

# Risch's closed form: int e^(3u) exp(-2 int a) has an elementary antiderivative only through
# the exponential extension exp(e^(3u)/3); by-parts terms (polynomial, sin) and tables are covered
# by the two examples.
RISCH_SPEC = """\
scorec: 1
name: exp-rate-sde
seed: 0
data: {source: moons}
process:
  kind: sde
  equation: "dx = -0.5 * beta(t) * x dt + sqrt(beta(t)) dw"
  where: {beta: "0.1 + exp(3 * t)"}
model: {parameterization: eps, network: {kind: mlp, hidden: [16], time_embedding: fourier}}
objective: {kind: dsm}
train: {steps: 10}
sample: {sampler: em, steps: 10, n: 10}
"""

COMPILE_ALL = """
import hashlib, json, sys
from scorec.emit.render import emit
from scorec.pipeline import compile_spec
if sys.argv[1] == "slow":
    sys.setprofile(lambda frame, event, arg: sum(range(20)))  # every call and return pays
out = {}
for path in sys.argv[2:]:
    compiled = compile_spec(path)
    for name, text in sorted(emit(compiled.ir, compiled.spec).items()):
        out[path + ":" + name] = hashlib.sha256(text.encode()).hexdigest()
print(json.dumps(out))
"""


def compile_in_process(specs: list[str], hash_seed: str, speed: str) -> dict[str, str]:
    env = dict(os.environ, PYTHONHASHSEED=hash_seed, SCOREC_KERNEL_CACHE="off")
    done = subprocess.run([sys.executable, "-c", COMPILE_ALL, speed, *specs], env=env, cwd=REPO,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def test_same_bytes_under_another_hash_seed_and_a_slow_machine(tmp_path):
    risch = tmp_path / "exp_rate_sde.yaml"
    risch.write_text(RISCH_SPEC)
    specs = [str(risch)] + [str(EXAMPLES / f"{n}.yaml") for n in ("moons_sde_tables_em", "gmm_sde_shifted_analytic_pc")]
    fast = compile_in_process(specs, "0", "fast")
    slow = compile_in_process(specs, "4242", "slow")
    assert len(fast) >= 3 * 4 and fast == slow


def test_the_exponential_rate_has_its_closed_form_by_risch():
    """The Risch spec's kernel is a closed form (no tables): the rule does decide it."""
    from scorec.components.process import _symbolic as S

    sp = S.sympy()
    t = S.symbol("t")
    log_m = S.integrate(-(sp.Rational(1, 10) + sp.exp(3 * t)) / 2)
    assert log_m is not None
    inner = S.integrate((sp.Rational(1, 10) + sp.exp(3 * t)) * sp.exp(-2 * log_m))
    assert inner is not None and not inner.has(sp.Integral)
    # d/dt of the antiderivative is the integrand, and it vanishes at 0
    check = sp.simplify(sp.diff(inner, t) - (sp.Rational(1, 10) + sp.exp(3 * t)) * sp.exp(-2 * log_m))
    assert check == 0 and inner.subs(t, 0) == 0


def test_a_trigonometric_rate_inside_an_exponential_is_tabulated():
    """exp(cos u) times sin has no by-parts form and Risch is not asked about trig: tables, by rule."""
    from scorec.components.process import _symbolic as S

    sp = S.sympy()
    t = S.symbol("t")
    assert S.integrate(sp.sin(7 * t) * sp.exp(sp.cos(3 * t))) is None
    by_parts = S.integrate(t**2 * sp.sin(3 * t) + 5)
    assert sp.simplify(sp.diff(by_parts, t) - (t**2 * sp.sin(3 * t) + 5)) == 0 and by_parts.subs(t, 0) == 0
