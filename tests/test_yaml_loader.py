"""The YAML front end: data, spans, YAML 1.2 scalars, located errors, `--set` overrides."""

from __future__ import annotations

import math
import time

import pytest

from scorec.core.diagnostics import Span, SpecError, SpecErrors, render
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


def error_of(text, file="s.yaml") -> SpecError:
    with pytest.raises(SpecError) as info:
        load_yaml(text, file)
    return info.value


def errors_of(text) -> list[SpecError]:
    """All errors, whether raised as one SpecError or as SpecErrors."""
    try:
        load_yaml(text, "s.yaml")
    except SpecErrors as many:
        return many.errors
    except SpecError as one:
        return [one]
    raise AssertionError("no error raised")


def at(err: SpecError) -> tuple[int, int]:
    return err.span.line, err.span.col


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


# ---------------------------------------------------------------------------- errors


def test_syntax_error_is_located_and_readable():
    err = error_of("a: 1\nb: c: d\n")
    assert err.message == "invalid YAML: mapping values are not allowed here"
    assert at(err) == (2, 5)


def test_unclosed_flow_sequence_points_after_the_text():
    err = error_of("a: [1, 2\n")
    assert err.message.startswith("invalid YAML:")
    assert at(err) == (1, 9)
    assert "line 1" in err.hint


def test_tab_indentation_hint():
    err = error_of("a:\n\tb: 1\n")
    assert at(err) == (2, 1)
    assert "tabs" in err.hint


def test_control_character_is_located():
    err = error_of("a: 1\nb: x\x01\n")
    assert at(err) == (2, 5)


def test_duplicate_key_points_at_second_with_first_line_in_hint():
    err = error_of("a: 1\nb:\n  c: 1\n  c: 2\n")
    assert err.message == "duplicate key 'c'"
    assert at(err) == (4, 3)
    assert "line 3" in err.hint


@pytest.mark.parametrize(
    "text, pos",
    [
        ("a: !!python/object:os.system x\n", (1, 4)),
        ("a: 1\nb: !foo {x: 1}\n", (2, 4)),
        ("a:\n  - !!str 3\n", (2, 5)),
        ("!!map {a: 1}\n", (1, 1)),
        ("a: !!python/object/apply:os.system ['echo hi']\n", (1, 4)),
    ],
)
def test_tags_are_rejected_where_written(text, pos):
    (err,) = errors_of(text)
    assert err.message == "tags are not allowed in specs"
    assert at(err) == pos


def test_anchors_and_aliases_are_rejected():
    errs = errors_of("a: &x [1, 2]\nb: *x\n")
    # one complaint for the repeated mistake, at the first place, counting the rest
    assert [e.message for e in errs] == ["anchors and aliases are not allowed in specs"]
    assert [at(e) for e in errs] == [(1, 4)]
    assert "1 more like it below" in errs[0].hint


def test_billion_laughs_is_rejected_quickly():
    lines = ['a0: &a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 10):
        refs = ",".join([f"*a{i - 1}"] * 9)
        lines.append(f"a{i}: &a{i} [{refs}]")
    errs = errors_of("\n".join(lines) + "\n")
    assert errs and all("anchors and aliases" in e.message for e in errs)
    assert at(errs[0]) == (1, 5)


def test_merge_key_needs_an_alias_and_is_rejected():
    errs = errors_of("base: &b {x: 1}\nderived:\n  <<: *b\n")
    assert at(errs[0]) == (1, 7) and "1 more like it below" in errs[0].hint


def test_invalid_utf8_is_located_at_first_bad_byte():
    err = error_of(b"a: 1\nname: caf\xe9\n")
    assert err.message == "file is not valid UTF-8"
    assert at(err) == (2, 10)
    err = error_of(b"a: \xc3\xa9\xff\n")  # a valid two-byte char, then a bad byte
    assert at(err) == (1, 5)


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "---\n", "--- # c\n...\n"])
def test_empty_spec(text):
    err = error_of(text)
    assert err.message == "the spec is empty"
    assert err.hint == "a spec starts with `scorec: 1`"
    assert at(err) == (1, 1)


@pytest.mark.parametrize(
    "text, pos, what",
    [("- a\n- b\n", (1, 1), "list"), ("# c\n  hello\n", (2, 3), "string"), ("42\n", (1, 1), "number"),
     ("null\n", (1, 1), "null")],
)
def test_top_level_must_be_a_mapping(text, pos, what):
    err = error_of(text)
    assert "must be a mapping" in err.message and what in err.message
    assert at(err) == pos


def test_second_document_is_an_error_at_its_start():
    err = error_of("a: 1\n---\nb: 2\n")
    assert "second" in err.message
    assert at(err) == (2, 1)


@pytest.mark.parametrize(
    "text, pos",
    [("1: a\n", (1, 1)), ("a: 1\nnull: b\n", (2, 1)), ("x:\n  true: 1\n", (2, 3)), ("[a]: c\n", (1, 1)),
     ("? {x: 1}\n: d\n", (1, 3)), ("1.5: x\n", (1, 1)), (": x\n", (1, 1))],
)
def test_keys_must_be_strings(text, pos):
    (err,) = errors_of(text)
    assert err.message.startswith("mapping keys must be strings")
    assert at(err) == pos


def test_quoted_numeric_key_is_a_string():
    assert load_yaml("'1': a\nyes: b\n", "s.yaml").data == {"1": "a", "yes": "b"}


def test_several_errors_are_reported_together_in_order():
    errs = errors_of("a: !x 1\nb: 2\nb: 3\n1: c\n")
    assert [at(e) for e in errs] == [(1, 4), (3, 1), (4, 1)]


def test_deep_nesting_is_refused_quickly_and_shallow_nesting_loads():
    data = load_yaml("a: " + "[" * 60 + "]" * 60 + "\n", "s.yaml").data
    assert isinstance(data["a"], list)
    depth = 5000  # ruamel's parser is quadratic in depth: refused before parsing
    err = error_of("a: " + "[" * depth + "]" * depth + "\n")
    assert "nested more than 64" in err.message and at(err) == (1, 3 + 65)
    # brackets inside a quoted string are text, not nesting
    assert load_yaml("a: '" + "[" * 70 + "'\n", "s.yaml").data["a"] == "[" * 70


def test_block_nesting_is_limited_too():
    err = error_of("- " * 3000 + "x\n")
    assert "nested more than 64" in err.message and err.span.line == 1
    nested = "".join("  " * i + f"k{i}:\n" for i in range(70))
    assert "nested more than 64" in error_of(nested).message
    assert load_yaml("".join("  " * i + f"k{i}:\n" for i in range(60)), "s.yaml").data


def test_size_limit():
    err = error_of("a: '" + "x" * 1_000_000 + "'\n")
    assert "characters long" in err.message and at(err) == (1, 1)


@pytest.mark.parametrize("version", ["1.3", "1.1", "2.0", "1.99999999999999999999"])
def test_yaml_versions_other_than_12_are_located_errors(version):
    err = error_of(f"%YAML {version}\n---\na: 1\n")
    assert err.message == f"invalid YAML: YAML version {version} is not supported"
    assert at(err) == (1, 1) and "YAML 1.2" in err.hint


def test_yaml_12_directive_and_tag_directive_are_fine():
    assert load_yaml("%YAML 1.2\n---\na: 1\n", "s.yaml").data == {"a": 1}
    assert load_yaml("%TAG !e! tag:example.com,2000:\n---\na: 1\n", "s.yaml").data == {"a": 1}


@pytest.mark.parametrize("literal", ["0x" + "f" * 3400, "0o" + "7" * 4500, "9" * 4001, "-" + "1" * 5000])
def test_huge_integers_are_located_errors(literal):
    err = error_of(f"a: 1\nb: {literal}\n")
    assert err.message.startswith("integer too large")
    assert err.span == Span("s.yaml", 2, 4, 2, 4 + len(literal))


def test_largest_integers_load():
    assert load_yaml("a: " + "9" * 4000 + "\n", "s.yaml").data["a"] == 10**4000 - 1
    assert load_yaml("a: 0x" + "f" * 100 + "\n", "s.yaml").data["a"] == 16**100 - 1


@pytest.mark.parametrize("text, pos", [
    ("a: 1\rb: x: y\r", (2, 5)),               # a bare CR is a YAML line break
    ("a: 1\r\nb: x: y\r\n", (2, 5)),
    ("a: 1\nb: 2 # \x0c\n", (2, 8)),          # str.splitlines would break here
    ("a: \ufeff1\nb: x: y\n", (2, 5)),
])
def test_lines_are_counted_as_the_diagnostics_show_them(text, pos):
    err = error_of(text)
    assert at(err) == pos
    shown = render(err, {"s.yaml": text}).splitlines()[1]
    assert shown.startswith(f"   {pos[0]} | ")


@pytest.mark.parametrize("sep", ["\x85", "\u2028", "\u2029"])
def test_yaml_11_line_separators_are_refused_where_written(sep):
    # ruamel would break the line there, parsing the rest of a comment as YAML
    err = error_of(f"a: 1\nb: 2 # note{sep} c: d\n")
    assert err.message == f"invalid YAML: unacceptable character U+{ord(sep):04X}"
    assert err.span == Span("s.yaml", 2, 12, 2, 13)


def test_render_shows_source_line_and_caret():
    text = "a: 1\na: 2\n"
    out = render(error_of(text), {"s.yaml": text})
    assert out.splitlines()[0] == "s.yaml:2:1: error[E0104]: duplicate key 'a'"
    assert "   2 | a: 2" in out


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
