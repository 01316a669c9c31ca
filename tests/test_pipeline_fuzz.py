"""Property-based fuzzing of the whole compiler: every spec that `check` accepts compiles.

Random overrides (kinds from the registry, numbers at and past their bounds, expressions,
junk) on the valid base spec go through load -> validate -> lower -> emit. A spec is
either refused with located SpecErrors, or lowered and emitted into Python that parses.
And values of every YAML type (tests/fuzz_specs.py) at every key of the schema, kinds
included, in `--set` overrides, YAML files and .score files: refused with located errors
(that render in both formats' words), or compiled; and what is accepted keeps its YAML type
(`order: true` is not order 1). Derandomized and bounded, so CI sees
the same examples every run; SCOREC_FUZZ_EXAMPLES=N runs N of each.
"""

from __future__ import annotations

import ast
import copy
from pathlib import Path

from fuzz_specs import CHANGES, KEYS, VALUES, examples, flow, located, put
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scorec.components import registry
from scorec.core.diagnostics import SpecError, SpecErrors
from scorec.emit.render import emit
from scorec.frontend.score_loader import load_score
from scorec.frontend.score_printer import to_score
from scorec.frontend.yaml_loader import load_yaml
from scorec.lower.passes import lower
from scorec.schema.overrides import apply_overrides
from scorec.schema.query import SPEC_LAYOUT
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


def compiles_or_fails_located(doc, sources: dict[str, str], checking: bool = False) -> None:
    """validate -> lower -> emit: Python that parses, or located SpecErrors. `checking`:
    only as far as `scorec check` goes (lower's checks, no emission)."""
    try:
        ir = lower(validate(doc), doc, checking)
    except (SpecError, SpecErrors) as exc:
        located(exc, sources)
        return
    for name, text in ({} if checking else emit(ir)).items():
        if name.endswith(".py"):
            ast.parse(text, filename=name)


FUZZ = settings(max_examples=examples(150), deadline=5000, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
TYPED = settings(FUZZ, max_examples=examples(100), deadline=5000)


def with_overrides(sets: list[str], checking: bool = False) -> None:
    sources = {"base.yaml": BASE, **{f"--set #{i}": text for i, text in enumerate(sets, start=1)}}
    try:
        doc, _ = apply_overrides(BASE_DOC, sets)
    except (SpecError, SpecErrors) as exc:
        located(exc, sources)
        return
    compiles_or_fails_located(doc, sources, checking)


@FUZZ
@given(overrides)
def test_every_accepted_spec_compiles(sets):
    with_overrides(sets)


@TYPED
@given(CHANGES)
def test_any_value_at_any_key_in_overrides(changes):
    with_overrides([".".join(path) + "=" + flow(value) for path, value in changes], checking=True)


def changed(changes) -> dict:
    data = copy.deepcopy(BASE_DOC.data)
    for path, value in changes:
        put(data, path, value)
    return data


@TYPED
@given(CHANGES)
def test_any_value_at_any_key_in_a_yaml_file(changes):
    text = "".join(f"{key}: {flow(value)}\n" for key, value in changed(changes).items())
    try:
        doc = load_yaml(text, "s.yaml")
    except (SpecError, SpecErrors) as exc:
        located(exc, {"s.yaml": text})
        return
    compiles_or_fails_located(doc, {"s.yaml": text}, checking=True)


@TYPED
@given(CHANGES)
def test_any_value_at_any_key_in_a_score_file(changes):
    try:
        text = to_score(changed(changes), layout=SPEC_LAYOUT)
    except SpecError:  # what .score cannot hold (a mapping in a list, a key that is not a name)
        return
    try:
        doc = load_score(text, "s.score", layout=SPEC_LAYOUT)
    except (SpecError, SpecErrors) as exc:
        located(exc, {"s.score": text})
        return
    compiles_or_fails_located(doc, {"s.score": text}, checking=True)


def kept_type(written, got) -> bool:
    """A value the spec accepted keeps its YAML types: `true` is not the integer 1 (nor an order),
    `2.0` not the integer 2; an integer may become a float (a rate written `1`)."""
    if isinstance(written, dict) and isinstance(got, dict):
        return all(kept_type(written[k], got[k]) for k in written.keys() & got.keys())
    if isinstance(written, list) and isinstance(got, (list, tuple)) and len(written) == len(got):
        return all(kept_type(w, g) for w, g in zip(written, got))
    if isinstance(written, bool) or isinstance(got, bool):
        return type(written) is type(got)
    if isinstance(written, float):
        return isinstance(got, float)
    return True


@TYPED
@given(KEYS, VALUES)
def test_an_accepted_value_keeps_its_type(path, value):
    try:
        spec = validate(apply_overrides(BASE_DOC, [".".join(path) + "=" + flow(value)])[0])
    except (SpecError, SpecErrors):
        return
    got = spec.model_dump()
    for key in path:
        if not isinstance(got, dict) or key not in got:
            return  # a kind named alone (`parameterization: eps`) is a section once validated
        got = got[key]
    assert kept_type(value, got), (path, value, got)
