"""Property tests of the `.score` front end (hypothesis; derandomized, so CI sees the same cases).

* YAML -> .score -> YAML keeps the spec: every example, and random specs drawn from a
  few families (toy and mixture data; vp, ve, subvp, discrete and sde processes; mlp
  networks; several samplers), give the same outcome three times: the same spec hash,
  or, for a drawn spec the schema refuses, the same error messages.
* Fuzzing: random text, and valid .score files with stretches replaced by fragments of
  .score syntax, only ever fail with a located SpecError (no other exception), each
  span on a line of the text; what does load prints (comments and all) and reads back
  as the same data. YAML specs mutated the same way and still loadable keep their data
  under `fmt`, and a second `fmt` changes nothing.
"""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emitted import EXAMPLES
from scorec.core.diagnostics import SpecError, SpecErrors, render, source_lines
from scorec.core.ir import spec_hash
from scorec.frontend.score_loader import load_score
from scorec.frontend.score_printer import to_score
from scorec.frontend.yaml_loader import load_yaml
from scorec.frontend.yaml_printer import format_yaml, to_yaml
from scorec.lower.passes import lower
from scorec.schema.query import SPEC_LAYOUT
from scorec.schema.validate import validate
from scorec.tools.fmt import same_data

PROPERTY = settings(max_examples=50, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow])
FUZZ = settings(max_examples=200, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def outcome(doc) -> tuple:
    """('ok', spec hash) or ('error', messages): what compiling a loaded document gives."""
    try:
        spec = validate(doc)
        return "ok", spec_hash(lower(spec, doc))
    except (SpecError, SpecErrors) as exc:
        errors = exc.errors if isinstance(exc, SpecErrors) else [exc]
        return "error", tuple(e.message for e in errors)


def round_trip(data: dict) -> None:
    """YAML text of `data` -> .score -> YAML: the same data and the same outcome each time."""
    first = load_yaml(to_yaml(data, layout=SPEC_LAYOUT), "a.yaml")
    assert same_data(first.data, data)
    score = load_score(to_score(first.data, layout=SPEC_LAYOUT), "a.score", layout=SPEC_LAYOUT)
    again = load_yaml(to_yaml(score.data, layout=SPEC_LAYOUT), "b.yaml")
    assert score.data == first.data == again.data
    assert outcome(first) == outcome(score) == outcome(again)


def test_every_example_round_trips():
    for path in sorted(EXAMPLES.glob("*.yaml")):
        doc = load_yaml(path.read_bytes(), str(path))
        assert outcome(doc)[0] == "ok", path
        round_trip(doc.data)


# ------------------------------------------------------------------------------ random specs

positive = st.floats(min_value=1e-6, max_value=1e3, allow_nan=False, allow_infinity=False)
small_int = st.integers(min_value=1, max_value=5000)
name = st.from_regex(r"[a-z0-9_-]{1,24}", fullmatch=True)


@st.composite
def data_section(draw) -> dict:
    source = draw(st.sampled_from(["gmm", "moons", "swiss_roll", "checkerboard", "pinwheel"]))
    if source != "gmm":
        return {"source": source, "n": draw(st.integers(100, 50000)), "noise": draw(st.floats(0, 1))}
    k = draw(st.integers(1, 4))
    point = st.lists(st.floats(-5, 5, allow_nan=False), min_size=2, max_size=2)
    return {"source": "gmm", "weights": [1.0 / k] * k, "means": draw(st.lists(point, min_size=k, max_size=k)),
            "std": draw(st.one_of(st.floats(0.05, 2), st.lists(st.floats(0.05, 2), min_size=k, max_size=k)))}


@st.composite
def process_section(draw) -> dict:
    kind = draw(st.sampled_from(["vp", "ve", "subvp", "discrete", "sde"]))
    if kind in ("vp", "subvp"):
        low = draw(st.floats(0.01, 1))
        return {"kind": kind, "beta_min": low, "beta_max": low + draw(st.floats(0.5, 30))}
    if kind == "ve":
        return {"kind": "ve", "sigma_min": draw(st.floats(0.001, 0.1)), "sigma_max": draw(st.floats(1, 80)),
                "t_eps": draw(st.sampled_from([1e-3, 1e-5, 0.01]))}
    if kind == "sde":
        rate = f"{draw(st.floats(0.05, 1)):.3g} + {draw(st.floats(1, 20)):.3g} * t"
        return {"kind": "sde", "equation": "dx = -0.5 * beta(t) * x dt + sqrt(beta(t)) dw", "where": {"beta": rate}}
    schedule = draw(st.one_of(st.sampled_from(["linear", "cosine"]),
                              st.just({"alpha_bar": "cos((i / N + 0.008) / 1.008 * pi / 2)**2"})))
    return {"kind": "discrete", "schedule": schedule, "timesteps": draw(st.integers(50, 2000))}


@st.composite
def spec_data(draw) -> dict:
    process = draw(process_section())
    discrete = process["kind"] == "discrete"
    network = {"kind": "mlp", "hidden": draw(st.lists(st.integers(4, 256), min_size=1, max_size=4)),
               "time_embedding": draw(st.sampled_from(["fourier", "sinusoidal"]))}
    weighting = draw(st.sampled_from(["sigma2", "sigma(t)**2", "sigma(t)**2 * (1 + 0.5 * t)", "uniform"]))
    objective = {"kind": "ddpm"} if discrete else {"kind": "dsm", "weighting": weighting}
    n = draw(small_int)
    if discrete:
        sample = draw(st.sampled_from([{"sampler": "ddim", "steps": min(50, process["timesteps"]),
                                        "eta": draw(st.floats(0, 1))},
                                       {"sampler": "ancestral", "steps": process["timesteps"]}]))
    else:
        corrector = draw(st.one_of(st.just({"kind": "none"}), st.just(None),
                                   st.builds(lambda s: {"kind": "langevin", "snr": s}, positive)))
        sample = draw(st.sampled_from([{"sampler": "em"}, {"sampler": "pc", "corrector": corrector},
                                       {"sampler": "ode", "method": "heun"}]))
        sample["steps"] = draw(st.integers(1, 1000))
    sample |= {"n": n, "batch_size": draw(st.integers(1, n))}
    spec = {"scorec": 1, "name": draw(name), "seed": draw(st.integers(0, 2**31 - 1)), "data": draw(data_section()),
            "process": process, "model": {"parameterization": "eps", "network": network},
            "objective": objective,
            "train": {"steps": draw(small_int), "lr": draw(positive), "compile": draw(st.booleans()),
                      "grad_clip": draw(st.one_of(st.none(), positive))},
            "sample": sample, "eval": {"metrics": draw(st.lists(st.sampled_from(["mmd", "swd", "c2st"]),
                                                                min_size=1, max_size=3, unique=True))}}
    return spec


@PROPERTY
@given(spec_data())
def test_random_specs_round_trip(data):
    round_trip(data)


# any data the printers are handed reads back as the same data (and .score prints the same again)
keys = st.one_of(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True).filter(lambda k: k != "dx"),
                 st.sampled_from(["data", "process", "model", "sample", "network", "corrector", "kind", "source",
                                  "sampler", "parameterization", "where", "equation", "f"]))
scalars = st.one_of(st.none(), st.booleans(), st.integers(-10**30, 10**30), st.floats(), st.text(max_size=12),
                    st.sampled_from(["sigma(t)**2", "a-b", "-x", "1e5", "true", "dx = x dt + dw", " x", ".inf"]))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4), max_leaves=12)
sections = st.recursive(st.dictionaries(keys, values, max_size=4),
                        lambda inner: st.dictionaries(keys, st.one_of(values, inner), max_size=4), max_leaves=8)


@PROPERTY
@given(st.dictionaries(keys, st.one_of(values, sections), min_size=1, max_size=6))
def test_printed_data_reads_back_the_same(data):
    text = to_score(data, layout=SPEC_LAYOUT)
    again = load_score(text.encode("utf-8"), "d.score", layout=SPEC_LAYOUT).data
    assert same_data(again, data)
    assert to_score(again, layout=SPEC_LAYOUT) == text  # printing is idempotent
    assert same_data(load_yaml(to_yaml(data, layout=SPEC_LAYOUT), "d.yaml").data, data)  # canonical YAML reads back too


# ------------------------------------------------------------------------------ fuzzing

SEEDS = [p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*.score"))]
ATOMS = [
    "{", "}", "=", "[", "]", "(", ")", ",", '"', "\\", "#", "'", ":", "**", "^", "-", ".", "dx = ", " dt", " dw",
    "dx = x dt + dw", "f(t) = t", "f(s) = ", "\n", "\r", "\r\n", "\t", "  ", "\x00", "\x1b[2J", "\u2028", "\ufeff",
    "é", "1e999999", "9" * 4100, ".inf", "-.nan", "1.2.3", "2e-", "0x10", "true", "null", "scorec 2", "kind",
    "sample pc {", "process sde {", "model eps {", "corrector none {}", "[" * 70, "(" * 70, '"\\q"', "\x85",
]
fragments = st.lists(st.one_of(st.sampled_from(ATOMS), st.text(max_size=4)), max_size=10).map("".join)


@st.composite
def mutated(draw) -> str:
    text = draw(st.sampled_from(SEEDS))
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(text)))
        j = draw(st.integers(i, min(len(text), i + 30)))
        text = text[:i] + draw(fragments) + text[j:]
    return text


def only_located_errors(text: str | bytes) -> None:
    try:
        doc = load_score(text, "fuzz.score", layout=SPEC_LAYOUT)
        printed = to_score(doc.data, doc.comments, doc.trailing, doc, layout=SPEC_LAYOUT)  # odd comments and spellings too
        assert same_data(load_score(printed, "printed.score", layout=SPEC_LAYOUT).data, doc.data)
        spec = validate(doc)
        if spec.process.kind != "sde":  # sympy's work on a mangled SDE is slow; the loader is what is fuzzed
            lower(spec, doc)
    except (SpecError, SpecErrors) as exc:
        source = text if isinstance(text, str) else text.decode("utf-8", errors="replace")
        lines = source_lines(source.removeprefix("\ufeff"))
        for error in exc.errors if isinstance(exc, SpecErrors) else [exc]:
            if error.span is not None:
                assert 1 <= error.span.line <= max(1, len(lines)), error
            render(error, {"fuzz.score": source})


@FUZZ
@given(mutated())
def test_mutated_score_files_fail_only_with_located_errors(text):
    only_located_errors(text)


@FUZZ
@given(st.one_of(st.binary(max_size=200), st.text(max_size=200)))
def test_random_input_fails_only_with_located_errors(raw):
    only_located_errors(raw)


# ------------------------------------------------------------------------------ YAML fmt

YAML_SEEDS = [p.read_text(encoding="utf-8") for p in sorted(EXAMPLES.glob("*.yaml"))]
YAML_ATOMS = ["#", " # c", "\n# c\n", "\n\n\n", '"', "'", ": ", "- ", "[", "]", "{", "}", ",", "\n", "  ", "x: 1\n",
              "|\n  a\n", ">-\n  b\n", "\\", "é", "%YAML 1.2\n---\n", "...\n", "? a\n: b\n"]


@st.composite
def mutated_yaml(draw) -> str:
    text = draw(st.sampled_from(YAML_SEEDS))
    pieces = st.lists(st.one_of(st.sampled_from(YAML_ATOMS), st.text(max_size=3)), max_size=6).map("".join)
    for _ in range(draw(st.integers(1, 3))):
        i = draw(st.integers(0, len(text)))
        j = draw(st.integers(i, min(len(text), i + 20)))
        text = text[:i] + draw(pieces) + text[j:]
    return text


@FUZZ
@given(mutated_yaml())
def test_yaml_fmt_keeps_data_and_is_idempotent(text):
    try:
        doc = load_yaml(text, "fuzz.yaml")
    except (SpecError, SpecErrors):
        return
    once = format_yaml(text, doc.data, layout=SPEC_LAYOUT)
    assert same_data(load_yaml(once, "once.yaml").data, doc.data)
    assert format_yaml(once, doc.data, layout=SPEC_LAYOUT) == once
