"""Rendering diagnostics: what reaches the terminal is safe, and the caret is where the span is."""

from __future__ import annotations

import pytest

from scorec.core.diagnostics import Span, SpecError, escape, render, source_lines


def caret_line(out: str) -> str:
    return out.splitlines()[2]


def test_escape_sequence_in_source_line_is_shown_escaped():
    text = "a: 1  # \x1b]0;owned\x07\nb: x\n"
    out = render(SpecError("bad", Span("s.yaml", 1, 4, 1, 5)), {"s.yaml": text})
    assert "\x1b" not in out and "\x07" not in out
    assert "   1 | a: 1  # \\x1b]0;owned\\x07" in out


def test_caret_stays_under_the_span_after_escapes():
    text = "a: \x1b[31m x: bad\n"
    out = render(SpecError("bad", Span("s.yaml", 1, 13, 1, 16)), {"s.yaml": text})
    shown, caret = out.splitlines()[1], caret_line(out)
    assert shown[caret.index("^"):caret.index("^") + 3] == "bad"
    assert caret.endswith("^^^")


def test_escaped_character_under_the_caret_is_fully_underlined():
    out = render(SpecError("bad", Span("s.yaml", 1, 2, 1, 3)), {"s.yaml": "a\x00b\n"})
    assert out.splitlines()[1].endswith("a\\x00b")
    assert caret_line(out).endswith("| " + " " + "^" * 4)


def test_message_and_hint_quoting_user_text_are_escaped():
    out = render(SpecError("unknown key 'a\x1b[2Jb'", Span("s.yaml", 1, 1), "did you mean '\x9bx'?"))
    assert "\x1b" not in out and "\x9b" not in out
    assert "'a\\x1b[2Jb'" in out and "'\\x9bx'" in out


def test_bidi_and_line_separators_are_escaped_tabs_kept():
    assert escape("a\u202eb\u2028c\u0085d\te") == "a\\u202eb\\u2028c\\x85d\te"
    assert escape("café ✓") == "café ✓"
    assert escape("a\udcffb") == "a\\udcffb"  # an undecodable byte in a --set argument


def test_caret_padding_keeps_tabs_so_it_lines_up_in_a_terminal():
    out = render(SpecError("bad", Span("s.yaml", 1, 4)), {"s.yaml": "a:\t b\n"})
    assert caret_line(out) == "     | " + "  \t^"


@pytest.mark.parametrize("sep", ["\u2028", "\u0085", "\x0c", "\x0b", "\x1c"])
def test_lines_break_only_where_yaml_breaks_them(sep):
    text = f"a: 1 # x{sep}y\nb: 2\n"
    assert source_lines(text) == [f"a: 1 # x{sep}y", "b: 2"]
    out = render(SpecError("bad", Span("s.yaml", 2, 4, 2, 5)), {"s.yaml": text})
    assert out.splitlines()[1] == "   2 | b: 2"


def test_source_lines_split_at_cr_lf_and_crlf():
    assert source_lines("a\rb\r\nc\nd") == ["a", "b", "c", "d"]
    assert source_lines("a\n") == ["a"] and source_lines("") == []
