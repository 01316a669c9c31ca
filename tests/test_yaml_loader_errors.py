"""The YAML front end's located errors: malformed YAML, tabs, control characters, duplicate keys, tags,
anchors and aliases, empty and non-mapping specs, non-string keys, nesting, size and integer limits,
YAML versions, line counting as the diagnostics show it (tests/test_yaml_loader.py: what loads)."""

from __future__ import annotations

import pytest

from scorec.core.diagnostics import Span, SpecError, SpecErrors, render
from scorec.frontend.yaml_loader import load_yaml


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
