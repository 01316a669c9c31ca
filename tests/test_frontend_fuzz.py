"""Property-based fuzzing of the YAML front end and `--set` parsing.

Mutated specs and override strings must only ever fail with a located SpecError: no
other exception, no hang, every span on a line that exists in its text, and nothing in
the rendered diagnostic that a terminal would act on. Derandomized, so CI sees the
same examples every run.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scorec.core.diagnostics import SpecError, SpecErrors, render, source_lines
from scorec.frontend.yaml_loader import load_yaml
from scorec.schema.overrides import apply_override

BASE = (Path(__file__).parent / "diagnostics" / "base.yaml").read_text(encoding="utf-8")

FUZZ = settings(max_examples=200, deadline=3000, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

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
