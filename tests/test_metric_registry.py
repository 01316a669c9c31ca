"""Metrics are components (issue 17 part 3) with floors, and nn_ratio (issue 19).

* A metric's name (and the keys it alone writes) appears in no scorec or template file but its
  own module; the eval.metrics options, the JSON Schema and the defaults come from the registry.
* Metrics the spec cannot feed are located errors whose hints come from the declared needs;
  automatic metrics join where they apply.
* Floors are the same metric on an independent draw of real data of the samples' size.
* nn_ratio: data against data is 1 within its Monte-Carlo error; blurred data is clearly farther,
  and more so the more it is blurred.
"""

from __future__ import annotations

import json
import keyword
import math
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from test_contracts import _quoted_strings_j2

from emitted import REPO, compile_text
from scorec.core.diagnostics import SpecError, SpecErrors
from scorec.metrics import registry
from scorec.metrics.evaluation import FRESH_SEED_OFFSET, Evaluation, evaluate_metrics
from scorec.metrics.nearest import nearest_distances, nn_ratio
from scorec.metrics.points import mmd_rbf, sliced_wasserstein
from scorec.metrics.two_sample import c2st
from scorec.run.report import metric_paragraphs

# ------------------------------------------------------------------------------ one room each


def _strings_py(path: Path) -> set[str]:
    """The string constants of a Python file, but those of `__all__` (names of Python functions:
    two_sample.c2st is the numerics, not the metric)."""
    import ast

    tree = ast.parse(path.read_text())
    exported = {id(node) for stmt in tree.body if isinstance(stmt, ast.Assign)
                and any(isinstance(t, ast.Name) and t.id == "__all__" for t in stmt.targets)
                for node in ast.walk(stmt.value)}
    return {node.value for node in ast.walk(tree)
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in exported}


def test_a_metric_is_named_only_in_its_own_module():
    homes = {m.name: Path(__import__(m.module, fromlist=["_"]).__file__).resolve() for m in registry.metrics().values()}
    # an emitted program computing metrics (likelihood.py: nll, vlb) is part of their home: its lowering,
    # numerics and templates (registry.Metric.program)
    program_files = {m.name: {REPO / "scorec" / layer / f"{m.program}.py" for layer in ("lower", "metrics")}
                     | {REPO / "templates" / f"{m.program}.py.j2", *(REPO / "templates" / m.program).glob("*.j2")}
                     for m in registry.metrics().values() if m.program}
    words = {m.name: {m.name, *m.unfloored} for m in registry.metrics().values()}
    files = [*(REPO / "scorec").rglob("*.py"), *(REPO / "templates").rglob("*.j2"), *(REPO / "templates").rglob("*.py")]
    offenders = []
    for path in files:
        strings = _strings_py(path) if path.suffix == ".py" else _quoted_strings_j2(path)
        if path.name == "expr_parser.py":  # refuses Python's keywords in expressions: "is" among them
            strings -= set(keyword.kwlist)
        for name, home in homes.items():
            if path.resolve() != home and path not in program_files.get(name, ()) and words[name] & strings:
                offenders.append(f"{path.relative_to(REPO)} names {sorted(words[name] & strings)}")
    assert not offenders, offenders
    # one module per metric
    assert len(set(homes.values())) == len(homes)


def test_eval_options_and_json_schema_come_from_the_registry():
    from scorec.schema.spec import EvalSpec, json_schema

    schema = json_schema()
    evals = schema["$defs"]["EvalSpec"]["properties"]["metrics"]
    assert evals["items"]["enum"] == sorted(registry.names())
    for name in registry.names():
        assert name in evals["description"]
    assert EvalSpec().metrics == registry.defaults(registry.POINTS)
    assert {"c2st", "nn_ratio", "mmd", "swd"} <= set(registry.defaults(registry.POINTS))
    assert not {"c2st", "nn_ratio"} & set(registry.defaults(registry.IMAGES))


SWISS = "scorec: 1\nname: r\ndata: {source: swiss_roll}\nprocess: {kind: vp}\n"
GMM = "scorec: 1\nname: g\ndata: {source: gmm, means: [[0, 0], [1, 1]]}\nprocess: {kind: vp}\n"
DIGITS = ("scorec: 1\nname: d\ndata: {source: digits}\nprocess: {kind: vp}\n"
          "model: {network: {kind: unet}}\n")


def test_a_spec_without_metrics_gets_the_defaults_for_its_data():
    assert compile_text(SWISS).eval.metrics == tuple(registry.defaults(registry.POINTS))
    assert compile_text(DIGITS).eval.metrics == tuple(registry.defaults(registry.IMAGES))
    # automatic metrics join wherever they apply, listed or not
    assert compile_text(GMM + "eval: {metrics: [swd]}\n").eval.metrics == ("swd", "mode_tv")
    nce = GMM.replace("process: {kind: vp}", "process: {kind: none}") + \
        "model: {parameterization: energy}\nobjective: {kind: nce}\nsample: {sampler: langevin}\n" \
        "eval: {metrics: [swd]}\n"
    assert compile_text(nce).eval.metrics == ("swd", "mode_tv", "nll")


def _error(text: str, overrides=()) -> SpecError:
    with pytest.raises((SpecError, SpecErrors)) as info:
        compile_text(text, overrides)
    errors = info.value.errors if isinstance(info.value, SpecErrors) else [info.value]
    assert len(errors) == 1
    return errors[0]


@pytest.mark.parametrize("spec, metric, words, hint", [
    (SWISS, "fid", "compares images, but this data's samples are points", "metrics that fit here: c2st"),
    (DIGITS, "nn_ratio", "compares points, but this data's samples are images", "fid"),
    (SWISS, "mode_tv", "needs a Gaussian-mixture data source (got data 'swiss_roll')", "use data source: gmm"),
    (SWISS, "vlb", "is the variational bound of a discrete chain; process 'vp' is not one", "use metric nll"),
])
def test_a_metric_the_spec_cannot_feed_is_a_located_error(spec, metric, words, hint):
    err = _error(spec + f"eval:\n  metrics: [swd, {metric}]\n")
    assert f"metric '{metric}' {words}" in err.message
    assert hint in str(err.hint)
    assert (err.span.line, err.span.col) == (spec.count("\n") + 2, 18)  # the list's second item


def test_image_features_and_training_are_declared_needs():
    err = _error(DIGITS + "eval: {metrics: [is], features: inception}\n")
    assert "metric 'is' needs features: classifier (got features: inception)" in err.message
    assert str(err.hint) == "set `features: classifier`"
    analytic = GMM.replace("process: {kind: vp}", "process: {kind: none}") + \
        "model: {parameterization: energy, network: {kind: analytic}}\nobjective: {kind: nce}\n" \
        "sample: {sampler: langevin}\neval: {metrics: [nll]}\n"
    err = _error(analytic)
    assert "metric 'nll' of a normalized model measures its trained weights (log_z), but network 'analytic' " \
           "is exact" in err.message


def test_registering_a_metric_twice_or_on_unknown_samples_is_refused():
    with pytest.raises(TypeError, match="registered twice"):
        registry.metric("swd", description="again")(lambda ev: {})
    with pytest.raises(TypeError, match="`on`"):
        registry.metric("elsewhere", description="?", on="voxels")


# ------------------------------------------------------------------------------ floors


class _Common:
    """A run's common.py as the evaluation sees it: reference_data(n, seed) of a 2-D Gaussian."""

    def __init__(self):
        self.calls = []

    def reference_data(self, n, seed):
        self.calls.append((n, seed))
        return np.random.default_rng(seed).standard_normal((n, 2)).astype(np.float32)


def _evaluation(samples, reference, seed=4):
    program = SimpleNamespace(common=_Common())
    return Evaluation(samples, reference, ir=None, program=program, samples_kind=registry.POINTS, seed=seed)


def test_floors_are_the_metric_on_independent_draws_of_real_data():
    rng = np.random.default_rng(0)
    samples = 1.3 * rng.standard_normal((300, 2))
    reference = rng.standard_normal((500, 2))
    ev = _evaluation(samples, reference)
    out = evaluate_metrics(["swd", "mmd", "c2st", "nn_ratio"], ev)
    # the numbers are the numerics' own (what metrics.json always held)
    assert out["swd"] == sliced_wasserstein(samples, reference, seed=4)
    assert (out["mmd"], out["mmd_pvalue"]) == mmd_rbf(samples, reference, seed=4)
    assert (out["c2st"], out["c2st_pvalue"]) == c2st(samples, reference, seed=4)
    # two fresh draws, each as large as the samples, with seeds of their own
    fresh0, fresh1 = (np.random.default_rng(4 + FRESH_SEED_OFFSET + k).standard_normal((300, 2)) for k in (0, 1))
    assert sorted(ev.program.common.calls) == [(300, 4 + FRESH_SEED_OFFSET), (300, 4 + FRESH_SEED_OFFSET + 1)]
    assert out["swd_floor"] == pytest.approx(sliced_wasserstein(fresh0.astype(np.float32), reference, seed=4))
    assert out["nn_ratio"] == pytest.approx(nn_ratio(samples, reference, fresh1.astype(np.float32), seed=4))
    assert out["nn_ratio_floor"] == pytest.approx(nn_ratio(fresh0.astype(np.float32), reference,
                                                           fresh1.astype(np.float32), seed=4))
    assert "mmd_pvalue_floor" not in out and "c2st_pvalue_floor" not in out  # p-values have no floor
    # the samples are wider than the data: every metric sits above its floor
    for key in ("swd", "mmd", "c2st", "nn_ratio"):
        assert out[key] > out[f"{key}_floor"], key


def test_the_summary_puts_the_floor_and_ratio_beside_the_metric():
    lines = registry.summary({"nfe": 11, "swd": 0.043, "swd_floor": 0.0215, "mmd_pvalue": 0.21})
    assert lines == ["nfe 11", "swd 0.043 (floor 0.0215, 2.0x)", "mmd_pvalue 0.21"]


# ------------------------------------------------------------------------------ nn_ratio


def _ring(n, seed, blur=0.0):
    """Points on a thin ring of radius 1 (radial jitter sd 0.01), plus N(0, blur^2 I) noise."""
    rng = np.random.default_rng(seed)
    angle = rng.uniform(0, 2 * np.pi, n)
    radius = 1 + 0.01 * rng.standard_normal(n)
    x = np.stack([radius * np.cos(angle), radius * np.sin(angle)], axis=1)
    return x + blur * rng.standard_normal((n, 2))


def _ratio_and_se(a, b):
    """nn_ratio from the nearest distances of samples (a) and of fresh data (b), and its standard error
    from the two means' sampling errors (independent given the data)."""
    ratio = a.mean() / b.mean()
    rel = math.sqrt(a.var(ddof=1) / len(a) / a.mean() ** 2 + b.var(ddof=1) / len(b) / b.mean() ** 2)
    return ratio, ratio * rel


DATA, FRESH = _ring(4000, 0), _ring(2000, 1)


@pytest.fixture(scope="module")
def fresh_distances():
    return nearest_distances(FRESH, DATA)


def test_nn_ratio_of_data_against_data_is_one(fresh_distances):
    for seed in (2, 3):
        draw = _ring(2000, seed)
        ratio, se = _ratio_and_se(nearest_distances(draw, DATA), fresh_distances)
        # se is about 0.02 here: 4 standard errors leave a false alarm at odds of 1 in 16000
        assert abs(ratio - 1) < 4 * se, (seed, ratio, se)
    assert nn_ratio(draw, DATA, FRESH) == pytest.approx(ratio)


def test_nn_ratio_grows_with_blur(fresh_distances):
    ratios = []
    for blur in (0.01, 0.02, 0.05):  # fresh data lie 0.004 from their nearest data point
        ratio, se = _ratio_and_se(nearest_distances(_ring(2000, 2, blur), DATA), fresh_distances)
        assert ratio > 1 + 6 * se, (blur, ratio, se)
        ratios.append(ratio)
    assert ratios == sorted(ratios) and ratios[-1] > 3 * ratios[0] / 2


def test_nearest_distances_is_exact():
    rng = np.random.default_rng(5)
    q, p = rng.standard_normal((50, 3)), rng.standard_normal((70, 3))
    brute = np.sqrt(((q[:, None] - p[None]) ** 2).sum(-1)).min(1)
    assert np.allclose(nearest_distances(q, p, chunk=7), brute, rtol=1e-10, atol=1e-10)


# ------------------------------------------------------------------------------ the model's own metrics


def test_a_likelihood_is_launched_has_no_floor_and_needs_no_samples(tmp_path):
    """vlb is computed by the run's emitted likelihood.py: the evaluation launches it (ev.launch) and reads
    likelihood.json, with no floor, even when too few samples are finite for the sample metrics; the
    report's paragraph on it comes from its registered `report`."""
    launched = []

    def launch(name, total):  # stands in for running code/likelihood.py: it writes likelihood.json
        launched.append((name, total))
        (tmp_path / "likelihood.json").write_text(json.dumps(
            {"vlb": 5.25, "vlb_se": 0.5, "vlb_n": 7, "vlb_nfe": 1000, "vlb_seconds": 2.0,
             "settings": {"steps": 1000, "variance": "large", "decoder": "discretized", "batch_size": 7}}))

    ir = SimpleNamespace(eval=SimpleNamespace(likelihood=SimpleNamespace(metric="vlb", n=7), metrics=("swd", "vlb")))
    program = SimpleNamespace(common=_Common(), run_dir=tmp_path)
    ev = Evaluation(np.zeros((1, 2)), np.zeros((5, 2)), ir=ir, program=program, samples_kind=registry.POINTS,
                    launch=launch)
    out = evaluate_metrics(ir.eval.metrics, ev)
    assert launched == [("likelihood", 7)]
    assert out == {"vlb": 5.25, "vlb_se": 0.5, "vlb_n": 7, "vlb_nfe": 1000, "vlb_seconds": 2.0}  # no swd: 1 sample
    (heading, text), = metric_paragraphs(tmp_path, ir, out)
    assert heading == "Likelihood"
    assert text.startswith("vlb = 5.25 ± 0.5 bits/dim on 7 held-out points (test split); variational bound over "
                           "1000 steps, large reverse variance, discretized decoder; 1000 NFE per batch of 7")
    assert metric_paragraphs(tmp_path, ir, {"swd": 0.1}) == []  # a likelihood.json left from another evaluation
