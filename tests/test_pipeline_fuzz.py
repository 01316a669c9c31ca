"""Property-based fuzzing of the whole compiler: every spec that `check` accepts compiles.

Random overrides (kinds from the registry, numbers at and past their bounds, expressions,
junk) on the valid base spec go through load -> validate -> lower -> emit. A spec is
either refused with located SpecErrors, or lowered and emitted into Python that parses.
Derandomized and bounded, so CI sees the same examples every run.
"""

from __future__ import annotations

import ast
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scorec.components import registry
from scorec.core.diagnostics import SpecError, SpecErrors
from scorec.emit.render import emit
from scorec.frontend.yaml_loader import load_yaml
from scorec.lower.passes import lower
from scorec.schema.overrides import apply_overrides
from scorec.schema.validate import validate

BASE = (Path(__file__).parent / "diagnostics" / "base.yaml").read_text(encoding="utf-8")
BASE_DOC = load_yaml(BASE, "base.yaml")

PATHS = [
    "seed", "name", "data.source", "data.n", "data.std", "data.weights", "data.noise", "process.kind",
    "process.beta_min", "process.beta_max", "process.t_eps", "process.sigma_max", "process.timesteps",
    "process.schedule", "model.parameterization", "model.network.kind", "model.network.hidden",
    "objective.kind", "objective.weighting", "train.steps", "train.lr", "train.grad_clip", "sample.sampler",
    "sample.steps", "sample.n", "sample.batch_size", "sample.denoise", "sample.eta", "sample.method",
    "sample.step_size", "sample.predictor", "sample.corrector", "sample.corrector.kind", "eval.metrics",
]
KINDS = sorted({c.kind for c in registry.all_components()})
values = st.one_of(
    st.sampled_from(KINDS),
    st.integers(-3, 3000).map(str),
    st.sampled_from(["0", "1e-4", "0.5", "0.999", "1.0", "20.0", "1e300", "-1", ".inf", ".nan", "null", "true",
                     "[]", "[1, 2]", "[0.5, 0.5]", "[[0.0, 0.0], [1.0, 1.0]]", "2147483648",
                     "sigma(t)**2", "exp(100*t)", "beta(t)", "g(t) / sigma(t)", "1 / t", "log(t - 1)",
                     "linear", "cosine", "heun", "rk4", "[mmd]", "{kind: none}", "{kind: langevin, snr: 0.1}"]),
    st.text(max_size=6),
)
overrides = st.lists(st.tuples(st.sampled_from(PATHS), values).map(lambda kv: f"{kv[0]}={kv[1]}"),
                     min_size=1, max_size=3)


def located(exc: SpecError | SpecErrors) -> bool:
    return all(e.span is not None for e in (exc.errors if isinstance(exc, SpecErrors) else [exc]))


@settings(max_examples=150, deadline=5000, derandomize=True, database=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(overrides)
def test_every_accepted_spec_compiles(sets):
    try:
        doc, _ = apply_overrides(BASE_DOC, sets)
        ir = lower(validate(doc), doc)
    except (SpecError, SpecErrors) as exc:
        assert located(exc), exc
        return
    for name, text in emit(ir).items():
        if name.endswith(".py"):
            ast.parse(text, filename=name)
