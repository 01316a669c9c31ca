"""Property-based fuzzing of the YAML front end and `--set` parsing.

Mutated specs and override strings must only ever fail with a located SpecError: no
other exception, no hang, every span on a line that exists in its text, and nothing in
the rendered diagnostic that a terminal would act on. Values of every YAML type at every
key of the schema (tests/fuzz_specs.py), kinds included, read back exactly as written, in
a YAML file, a .score file and a `--set` override. Derandomized, so CI sees the same
examples every run.
"""

from __future__ import annotations

import copy
import unicodedata
from pathlib import Path

from fuzz_specs import CHANGES, KEYS, VALUES, examples, flow, put
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scorec.core.diagnostics import SpecError, SpecErrors, render, source_lines
from scorec.frontend.score_loader import load_score
from scorec.frontend.score_printer import to_score
from scorec.frontend.yaml_loader import load_yaml
from scorec.schema.overrides import apply_override
from scorec.schema.query import SPEC_LAYOUT
from scorec.tools.fmt import same_data

BASE = (Path(__file__).parent / "diagnostics" / "base.yaml").read_text(encoding="utf-8")

FUZZ = settings(max_examples=examples(200), deadline=3000, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
TYPED = settings(FUZZ, max_examples=examples(100), deadline=5000)

# Pieces of YAML syntax and of past trouble, spliced into specs and overrides.
ATOMS = [
    ":", ": ", "- ", "? ", "[", "]", "{", "}", ",", "'", '"', "\\", "#", "|", ">", "|-", "&a ", "*a", "<<: ",
    "!!str ", "!x ", "! ", "!!python/object:os.system ", "%YAML 1.3\n", "%YAML 1.1\n", "%YAML 1.2\n",
    "%TAG ! tag:x,2000:\n", "%FOO bar\n", "---\n", "--- ", "...\n", "\n", "\r", "\r\n", "\t", "  ", "    ",
    "\x1b]0;x\x07", "\x1b[2J", "\x00", "\x7f", "\x85", "\x9b", "\u2028", "\u2029", "\u202e", "\x0c", "\x0b",
    "\ufeff", "\udcff", "é", "✓", "0x" + "f" * 3500, "0o" + "7" * 4700, "9" * 4100, "1e-4", "1_000", ".inf",
    "yes", "null", "~", "a", "b: 1", "steps", "sample", "[" * 70, "- " * 70, "'" + "[" * 70 + "'",
]
fragments = st.lists(st.one_of(st.sampled_from(ATOMS), st.text(max_size=4)), max_size=12).map("".join)


@st.composite
def mutated_spec(draw) -> str:
    """The valid base spec with a few stretches replaced by fragments."""
    text = BASE
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        j = draw(st.integers(i, min(len(text), i + 30)))
        text = text[:i] + draw(fragments) + text[j:]
    return text


@st.composite
def override(draw) -> str:
    path = draw(st.one_of(
        st.sampled_from(["seed", "name", "sample.steps", "data.means.1", "eval.metrics.0", "train.lr", "a.b.c"]),
        fragments))
    return path + draw(st.sampled_from(["=", "=", ""])) + draw(fragments)


def unsafe(ch: str) -> bool:
    return ch != "\t" and unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp", "Cs")


def check_located(exc: SpecError | SpecErrors, sources: dict[str, str]) -> None:
    for error in exc.errors if isinstance(exc, SpecErrors) else [exc]:
        span = error.span
        assert span is not None, error
        lines = source_lines(sources[span.file])
        assert 1 <= span.line <= max(1, len(lines)), (error, len(lines))
        assert span.col >= 1 and (span.end_col is None or span.end_col > span.col), error
        for line in render(error, sources).split("\n"):
            assert not any(unsafe(c) for c in line), line


@FUZZ
@given(mutated_spec())
def test_mutated_specs_load_or_fail_located(text):
    try:
        load_yaml(text, "s.yaml")
    except (SpecError, SpecErrors) as exc:
        check_located(exc, {"s.yaml": text.removeprefix("\ufeff")})


@FUZZ
@given(fragments)
def test_yaml_fragments_load_or_fail_located(text):
    try:
        load_yaml(text, "s.yaml")
    except (SpecError, SpecErrors) as exc:
        check_located(exc, {"s.yaml": text.removeprefix("\ufeff")})


@FUZZ
@given(st.binary(max_size=40), st.integers(0, len(BASE)))
def test_bytes_load_or_fail_located(raw, at):
    data = BASE.encode()[:at] + raw + BASE.encode()[at:]
    try:
        load_yaml(data, "s.yaml")
    except (SpecError, SpecErrors) as exc:
        check_located(exc, {"s.yaml": data.decode("utf-8", errors="replace").removeprefix("\ufeff")})


BASE_DOC = load_yaml(BASE, "base.yaml")


@FUZZ
@given(override())
def test_overrides_apply_or_fail_located(text):
    try:
        apply_override(BASE_DOC, text, 1)
    except (SpecError, SpecErrors) as exc:
        check_located(exc, {"base.yaml": BASE, "--set #1": text})


def at(data, path: tuple):
    for key in path:
        data = data[key]
    return data




@TYPED
@given(CHANGES)
def test_any_value_at_any_key_reads_back_from_yaml_and_score(changes):
    data = copy.deepcopy(BASE_DOC.data)
    for path, value in changes:
        put(data, path, value)
    text = "".join(f"{key}: {flow(value)}\n" for key, value in data.items())
    try:
        assert same_data(load_yaml(text, "s.yaml").data, data)
    except (SpecError, SpecErrors) as exc:  # only what the YAML loader refuses on purpose: a lone surrogate
        check_located(exc, {"s.yaml": text})
    try:
        score = to_score(data, layout=SPEC_LAYOUT)
    except SpecError:  # what .score cannot hold: a mapping in a list, a key that is not a name
        return
    assert same_data(load_score(score, "s.score", layout=SPEC_LAYOUT).data, data), score


@TYPED
@given(KEYS, VALUES)
def test_any_value_at_any_key_reads_back_from_an_override(path, value):
    text = ".".join(path) + "=" + flow(value)
    try:
        doc = apply_override(BASE_DOC, text, 1)
    except (SpecError, SpecErrors) as exc:
        check_located(exc, {"base.yaml": BASE, "--set #1": text})
        return
    assert same_data(at(doc.data, path), value)
