"""The expression front end: trees, precedence, spans, and located rejections."""

from __future__ import annotations

import math
import subprocess
import sys

import pytest

from scorec.core.diagnostics import Span, SpecError
from scorec.core.expr import BinOp, Call, Neg, Num, Var, evaluate
from scorec.core.expr_parser import parse_expr

BASE = Span("spec.yaml", 7, 14)  # where the expression's first character sits


def t():
    return Var("t")


def n(v):
    return Num(float(v))


def error_of(text: str, **kwargs) -> SpecError:
    with pytest.raises(SpecError) as info:
        parse_expr(text, BASE, **kwargs)
    return info.value


def col(err: SpecError) -> int:
    """Offset of the error inside the expression text (0-based)."""
    assert err.span.file == "spec.yaml" and err.span.line == 7
    return err.span.col - BASE.col


# ---------------------------------------------------------------------------- trees


@pytest.mark.parametrize(
    "text, tree",
    [
        ("1", n(1)),
        ("0.5", n(0.5)),
        (".5", n(0.5)),
        ("2e-3", n(2e-3)),
        ("1.5E+2", n(150)),
        ("t", t()),
        ("pi", Var("pi")),
        ("1 + 2*t", BinOp("+", n(1), BinOp("*", n(2), t()))),
        ("(1 + 2)*t", BinOp("*", BinOp("+", n(1), n(2)), t())),
        ("1 - t - 2", BinOp("-", BinOp("-", n(1), t()), n(2))),
        ("1 / t / 2", BinOp("/", BinOp("/", n(1), t()), n(2))),
        ("2**3**t", BinOp("**", n(2), BinOp("**", n(3), t()))),
        ("-t**2", Neg(BinOp("**", t(), n(2)))),
        ("(-t)**2", BinOp("**", Neg(t()), n(2))),
        ("2**-t", BinOp("**", n(2), Neg(t()))),
        ("--t", Neg(Neg(t()))),
        ("+t", t()),
        ("-2*t", BinOp("*", Neg(n(2)), t())),
        ("t*-2", BinOp("*", t(), Neg(n(2)))),
        ("sqrt(t)", Call("sqrt", (t(),))),
        ("min(t, 0.5)", Call("min", (t(), n(0.5)))),
        ("sigma(t)**2", BinOp("**", Call("sigma", (t(),)), n(2))),
        ("exp(-0.5*(t))", Call("exp", (BinOp("*", Neg(n(0.5)), t()),))),
        ("0.1 + 19.9*t", BinOp("+", n(0.1), BinOp("*", n(19.9), t()))),
    ],
)
def test_trees(text, tree):
    assert parse_expr(text) == tree


@pytest.mark.parametrize(
    "text, reference",
    [
        ("-t**2", lambda t: -(t**2)),
        ("2**3**t", lambda t: 2 ** (3**t)),
        ("1 - t - 2 * t / 4", lambda t: 1 - t - 2 * t / 4),
        ("exp(-0.5 * t) * sqrt(1 - exp(-t))", lambda t: math.exp(-0.5 * t) * math.sqrt(1 - math.exp(-t))),
        ("cos(pi/2 * t)**2", lambda t: math.cos(math.pi / 2 * t) ** 2),
        ("max(t, 0.3) - min(t, 0.3)", lambda t: abs(t - 0.3)),
        ("e**t", lambda t: math.e**t),
    ],
)
def test_evaluation_matches_python(text, reference):
    expr = parse_expr(text)
    for point in (0.0, 0.25, 0.5, 1.0):
        assert evaluate(expr, {"t": point}) == pytest.approx(reference(point))


def test_node_spans():
    expr = parse_expr("0.1 + 19.9*t", BASE)
    assert expr.span == Span("spec.yaml", 7, 14, 7, 26)
    assert expr.left.span == Span("spec.yaml", 7, 14, 7, 17)
    assert expr.right.span == Span("spec.yaml", 7, 20, 7, 26)
    assert expr.right.right.span == Span("spec.yaml", 7, 25, 7, 26)
    call = parse_expr("  sqrt(t)", BASE)
    assert call.span == Span("spec.yaml", 7, 16, 7, 23)


def test_variables_and_functions_can_be_chosen():
    expr = parse_expr("i / N", variables=("i", "N"))
    assert expr == BinOp("/", Var("i"), Var("N"))
    assert parse_expr("beta(t)", functions=("beta",)) == Call("beta", (t(),))
    err = error_of("t", variables=("i", "N"))
    assert err.message == "unknown name 't' in expression"
    err = error_of("sqrt(t)", functions=("beta",))
    assert err.message == "function 'sqrt' is not allowed in expressions"


def test_without_span_errors_still_have_columns():
    with pytest.raises(SpecError) as info:
        parse_expr("t +* 2")
    assert info.value.span.col == 4


# ---------------------------------------------------------------------------- names


def test_unknown_name_with_did_you_mean():
    err = error_of("1 + tt")
    assert err.message == "unknown name 'tt' in expression"
    assert col(err) == 4 and err.span.end_col == err.span.col + 2
    assert err.hint == "did you mean 't'?"
    err = error_of("2*sigm(t)")
    assert err.message == "function 'sigm' is not allowed in expressions"
    assert col(err) == 2 and err.hint == "did you mean 'sigma'?"


def test_function_used_as_a_name():
    err = error_of("sigma**2")
    assert "is a function" in err.message and col(err) == 0


@pytest.mark.parametrize("text, where", [("sqrt(t, 2)", 0), ("1 + min(t)", 4), ("max()", 0), ("sigma(t, t)", 0)])
def test_arity(text, where):
    err = error_of(text)
    assert "takes" in err.message and col(err) == where


def test_huge_number():
    err = error_of("t * 1e400")
    assert "too large" in err.message and col(err) == 4


# ---------------------------------------------------------------------------- rejections


@pytest.mark.parametrize(
    "text, message, where",
    [
        ("t.real", "attribute access is not allowed in expressions", 1),
        ("().__class__", "attribute access is not allowed in expressions", 2),
        ("().__class__.__bases__", "attribute access is not allowed in expressions", 2),
        ("t.__class__", "attribute access is not allowed in expressions", 1),
        ("sqrt(t).conjugate()", "attribute access is not allowed in expressions", 7),
        ("t[0]", "indexing is not allowed in expressions", 1),
        ("[1, 2]", "lists are not allowed in expressions", 0),
        ("1 + 'x'", "string literals are not allowed in expressions", 4),
        ('"x"', "string literals are not allowed in expressions", 0),
        ("t^2", "'^' is not a power operator", 1),
        ("lambda: 1", "lambda is not allowed in expressions", 0),
        ("min(t, x=1)", "keyword arguments are not allowed in expressions", 7),
        ("t < 1", "comparisons are not allowed in expressions", 2),
        ("t == 1", "comparisons are not allowed in expressions", 2),
        ("t >= 1", "comparisons are not allowed in expressions", 2),
        ("t and 1", "boolean operators are not allowed in expressions", 2),
        ("not t", "boolean operators are not allowed in expressions", 0),
        ("t | 1", "boolean and bitwise operators are not allowed in expressions", 2),
        ("t if t else 1", "conditional expressions are not allowed in expressions", 2),
        ("t // 2", "operator '//' is not supported in expressions", 2),
        ("t % 2", "operator '%' is not supported in expressions", 2),
        ("x = 1", "'=' is not allowed in expressions", 2),
        ("__import__('os').system('x')", "function '__import__' is not allowed in expressions", 0),
        ("exec('1')", "function 'exec' is not allowed in expressions", 0),
        ("open('/etc/passwd')", "function 'open' is not allowed in expressions", 0),
        ("eval(t)", "function 'eval' is not allowed in expressions", 0),
        ("1 + getattr(t, 'x')", "function 'getattr' is not allowed in expressions", 4),
        ("__builtins__", "unknown name '__builtins__' in expression", 0),
        ("import os", "'import' is a Python keyword, not allowed in expressions", 0),
    ],
)
def test_rejected_constructs_are_named_and_located(text, message, where):
    err = error_of(text)
    assert err.message == message
    assert col(err) == where


def test_caret_hint_suggests_double_star():
    assert "**" in error_of("t^2").hint


def test_disallowed_function_hint_lists_allowed_ones():
    hint = error_of("eval(t)").hint
    assert "sqrt" in hint and "sigma" in hint


@pytest.mark.parametrize("text", ["", "   "])
def test_empty_expression(text):
    err = error_of(text)
    assert err.message == "empty expression" and col(err) == 0


@pytest.mark.parametrize(
    "text, message, where",
    [
        ("1 +", "invalid expression: unexpected end of expression", 3),
        ("(1 + t", "invalid expression: unexpected end of expression", 6),
        ("1)", "invalid expression: unexpected ')'", 1),
        ("()", "invalid expression: unexpected ')'", 1),
        ("2t", "invalid expression: unexpected name 't'", 1),
        ("t 2", "invalid expression: unexpected number '2'", 2),
        ("t +* 2", "invalid expression: unexpected '*'", 3),
        ("t, 1", "invalid expression: unexpected ','", 1),
        ("t $ 1", "invalid expression: unexpected character '$'", 2),
        ("t; 1", "invalid expression: unexpected character ';'", 1),
        ("{}", "invalid expression: unexpected character '{'", 0),
    ],
)
def test_syntax_errors(text, message, where):
    err = error_of(text)
    assert err.message == message
    assert col(err) == where


def test_implicit_multiplication_hint():
    assert "*" in error_of("2t").hint
    assert "not closed" in error_of("(1 + t").hint


def test_long_sums_are_parsed_or_refused_without_overflowing_the_stack():
    """Parsing never recurses; trees deeper than MAX_DEPTH are refused with a located error,
    because folding and printing later recurse over them."""
    assert parse_expr(" + ".join(["t"] * 50)).op == "+"
    with pytest.raises(SpecError) as info:
        parse_expr(" + ".join(["t"] * 3000), Span("s.yaml", 4, 9))
    assert "nested too deeply" in info.value.message
    assert (info.value.span.line, info.value.span.col) == (4, 9)


def test_compiler_front_end_does_not_import_torch():
    code = (
        "import sys, scorec.frontend.yaml_loader as y, scorec.core.expr_parser as p\n"
        "p.parse_expr('sqrt(t)'); y.load_yaml('a: 1', 'x')\n"
        "assert 'torch' not in sys.modules"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
