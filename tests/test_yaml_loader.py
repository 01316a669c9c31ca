"""The YAML front end: data, spans, YAML 1.2 scalars, files, `--set` overrides (its located errors on
malformed YAML, tags, anchors, limits: tests/test_yaml_loader_errors.py)."""

from __future__ import annotations

import math
import time

import pytest

from scorec.core.diagnostics import Span, SpecError, render
from scorec.frontend.source import Document
from scorec.frontend.yaml_loader import load_path, load_yaml
from scorec.schema.overrides import apply_override

SPEC = """\
scorec: 1
name: swissroll-vp
train: {steps: 20000, lr: 2.0e-4, compile: true}
sample:
  sampler: pc
  steps: 1000
  corrector: {kind: langevin, snr: 0.16}
objective:
  weighting: "sigma(t)**2"
  other: 'x'
eval:
  metrics: [mmd, swd]
"""


# ---------------------------------------------------------------------------- data


def test_data_and_types():
    doc = load_yaml(SPEC, "spec.yaml")
    assert isinstance(doc, Document)
    assert doc.file == "spec.yaml" and doc.source == SPEC
    assert doc.data["scorec"] == 1
    assert doc.data["train"] == {"steps": 20000, "lr": 2.0e-4, "compile": True}
    assert isinstance(doc.data["train"]["lr"], float)
    assert doc.data["eval"]["metrics"] == ["mmd", "swd"]
    assert list(doc.data) == ["scorec", "name", "train", "sample", "objective", "eval"]


@pytest.mark.parametrize(
    "text, value",
    [
        ("1e-4", 1e-4),
        ("2.0e-4", 2.0e-4),
        ("-1.5E+3", -1500.0),
        ("20000", 20000),
        ("+7", 7),
        ("0x1F", 31),
        ("0o17", 15),
        ("0.5", 0.5),
        (".5", 0.5),
        ("true", True),
        ("False", False),
        ("null", None),
        ("~", None),
        ("", None),
        ("yes", "yes"),
        ("no", "no"),
        ("on", "on"),
        ("off", "off"),
        ("y", "y"),
        ("'1e-4'", "1e-4"),
        ('"true"', "true"),
        ("1_000", "1_000"),
        ("0.1 + 19.9*t", "0.1 + 19.9*t"),
    ],
)
def test_yaml_12_core_scalars(text, value):
    got = load_yaml(f"x: {text}\n", "s.yaml").data["x"]
    assert got == value and type(got) is type(value)


def test_non_finite_floats_are_loaded():
    data = load_yaml("a: .inf\nb: -.Inf\nc: .nan\n", "s.yaml").data
    assert data["a"] == math.inf and data["b"] == -math.inf and math.isnan(data["c"])


def test_bom_and_crlf_are_fine():
    doc = load_yaml(b"\xef\xbb\xbfa: 1\r\nb: 2\r\n", "s.yaml")
    assert doc.data == {"a": 1, "b": 2}
    assert doc.span_of(("b",)) == Span("s.yaml", 2, 4, 2, 5)


# ---------------------------------------------------------------------------- spans


def test_value_and_key_spans():
    doc = load_yaml(SPEC, "spec.yaml")
    assert doc.span_of(("train", "lr")) == Span("spec.yaml", 3, 27, 3, 33)
    assert doc.span_of(("train", "lr"), key=True) == Span("spec.yaml", 3, 23, 3, 25)
    assert doc.span_of(("sample", "steps")) == Span("spec.yaml", 6, 10, 6, 14)
    assert doc.span_of(("sample",), key=True) == Span("spec.yaml", 4, 1, 4, 7)
    assert doc.span_of(("eval", "metrics", 1)) == Span("spec.yaml", 12, 18, 12, 21)
    # a block mapping's span is where it starts
    assert (doc.span_of(("sample",)).line, doc.span_of(("sample",)).col) == (5, 3)


def test_span_of_unknown_path_walks_up():
    doc = load_yaml(SPEC, "spec.yaml")
    assert doc.span_of(("sample", "missing", "deeper")) == doc.span_of(("sample",))
    assert doc.span_of(("nowhere",)) == doc.span_of(())
    assert doc.span_of(("sample", "nokey"), key=True) == doc.span_of(("sample",))


def test_text_span_of_quoted_and_plain_strings():
    doc = load_yaml(SPEC, "spec.yaml")
    assert doc.text_offsets[("objective", "weighting")] == 1
    assert doc.text_span(("objective", "weighting")) == Span("spec.yaml", 9, 15, 9, 26)
    assert doc.text_span(("sample", "sampler")) == Span("spec.yaml", 5, 12, 5, 14)
    assert doc.text_span(("train", "lr")) is None  # not a string


def test_text_span_is_none_where_columns_would_lie():
    doc = load_yaml('a: "x\\ty"\nb: |\n  multi\n  line\n', "s.yaml")
    assert doc.text_span(("a",)) is None
    assert doc.text_span(("b",)) is None
    assert doc.data["b"] == "multi\nline\n"


# ---------------------------------------------------------------------------- files


def test_load_path(tmp_path):
    path = tmp_path / "spec.yaml"
    path.write_bytes(b"scorec: 1\nlr: 1e-4\n")
    doc = load_path(path)
    assert doc.file == str(path)
    assert doc.data == {"scorec": 1, "lr": 1e-4}
    assert doc.span_of(("lr",)).file == str(path)


def test_load_path_missing_file_is_spec_error_without_span(tmp_path):
    with pytest.raises(SpecError) as info:
        load_path(tmp_path / "nope.yaml")
    assert info.value.span is None
    assert "nope.yaml" in info.value.message


# ---------------------------------------------------------------------------- --set


def doc() -> Document:
    return load_yaml(SPEC, "spec.yaml")


def set_error(override: str, index: int = 1) -> SpecError:
    with pytest.raises(SpecError) as info:
        apply_override(doc(), override, index)
    assert "--set section.field=value" in (info.value.hint or "")
    return info.value


def test_set_replaces_value_and_points_at_override():
    original = doc()
    new = apply_override(original, "sample.steps=50", 2)
    assert new.data["sample"]["steps"] == 50
    assert original.data["sample"]["steps"] == 1000  # the input is untouched
    assert new is not original and new.source == original.source
    assert new.extra_sources == {"--set #2": "sample.steps=50"}
    assert new.span_of(("sample", "steps")) == Span("--set #2", 1, 14, 1, 16)
    assert new.span_of(("sample", "steps"), key=True) == Span("--set #2", 1, 8, 1, 13)
    assert new.span_of(("sample", "sampler")).file == "spec.yaml"
    assert new.sources()["--set #2"] == "sample.steps=50"


def test_set_uses_yaml_12_scalars():
    new = apply_override(doc(), "train.lr=1e-4", 1)
    assert new.data["train"]["lr"] == 1e-4 and isinstance(new.data["train"]["lr"], float)
    assert apply_override(doc(), "train.compile=false", 1).data["train"]["compile"] is False
    assert apply_override(doc(), "sample.sampler=on", 1).data["sample"]["sampler"] == "on"
    assert apply_override(doc(), "sample.n=", 1).data["sample"]["n"] is None


def test_set_flow_list_replaces_subtree_spans():
    new = apply_override(doc(), "eval.metrics=[fid, kid, is]", 3)
    assert new.data["eval"]["metrics"] == ["fid", "kid", "is"]
    assert new.span_of(("eval", "metrics", 2)) == Span("--set #3", 1, 25, 1, 27)
    assert new.span_of(("eval", "metrics")).file == "--set #3"


def test_set_list_index_and_string_text_span():
    new = apply_override(doc(), "eval.metrics.0=energy", 1)
    assert new.data["eval"]["metrics"] == ["energy", "swd"]
    new = apply_override(doc(), "objective.weighting='1 - t'", 1)
    assert new.text_span(("objective", "weighting")) == Span("--set #1", 1, 22, 1, 27)


def test_set_creates_missing_sections():
    new = apply_override(doc(), "data.source.path=x.npz", 4)
    assert new.data["data"] == {"source": {"path": "x.npz"}}
    assert new.span_of(("data",)) == Span("--set #4", 1, 1, 1, 5)
    assert new.span_of(("data", "source", "path")) == Span("--set #4", 1, 18, 1, 23)


def test_set_replacing_a_section_drops_its_old_spans():
    new = apply_override(doc(), "sample=3", 1)
    assert new.data["sample"] == 3
    assert new.span_of(("sample", "steps")).file == "--set #1"


def test_chained_overrides_accumulate_sources():
    new = apply_override(apply_override(doc(), "a=1", 1), "b=2", 2)
    assert new.data["a"] == 1 and new.data["b"] == 2
    assert set(new.extra_sources) == {"--set #1", "--set #2"}


def test_set_errors_are_located_in_the_override():
    err = set_error("sample.steps", 5)
    assert err.span == Span("--set #5", 1, 1, 1, 13) and "'='" in err.message
    assert set_error("=50").span.col == 1
    assert set_error("a..b=1").span.col == 3
    assert set_error("a.=1").span.col == 3
    err = set_error("name.x=1")  # name is a string
    assert "not a section" in err.message and err.span.col == 6
    err = set_error("eval.metrics.7=mmd")
    assert err.span.col == 14
    err = set_error("train.lr=[1,")
    assert err.message.startswith("invalid YAML") and err.span.file == "--set #1"
    assert err.span.col == 13
    err = set_error("train.lr=!!python/object:os.system x")
    assert err.message == "tags are not allowed in specs" and err.span.col == 10
    err = set_error("train.lr=&a 1")
    assert "anchors" in err.message and err.span.col == 10
    err = set_error("train.lr=- 1")
    assert err.span.col == 10


def test_set_values_have_the_same_limits_as_files():
    start = time.perf_counter()
    err = set_error("seed=" + "[" * 3000 + "]" * 3000)
    assert time.perf_counter() - start < 1.0
    assert "nested more than 64" in err.message and err.span == Span("--set #1", 1, 6 + 64, 1, 7 + 64)
    assert "characters long" in set_error("name=" + "x" * 1_000_001).message
    assert "characters long" in set_error("a" * 1_000_001 + "=1").message
    err = set_error("seed=0x" + "f" * 4000)
    assert err.message.startswith("integer too large") and err.span.col == 6


@pytest.mark.parametrize("override", ["a=x\ry", "a=x\r\ny"])
def test_set_on_one_line_means_no_yaml_line_break(override):
    assert "one line" in set_error(override).message


def test_set_error_renders_with_override_text():
    err = set_error("name.x.y=1")
    new_src = {"--set #1": "name.x.y=1"}
    out = render(err, new_src)
    assert out.startswith("--set #1:1:")
    assert "name.x.y=1" in out
