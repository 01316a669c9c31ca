"""The Expr printers: to_torch (emitted code) and to_text (IR dumps, comments), and fold.

Random expression trees over t are printed to torch code and evaluated on float64
tensors; the result must match the float interpreter `evaluate`. The torch code comes
from our own printer here, so evaluating it with a bare namespace is acceptable in this
test (scorec itself never evals anything).
"""

from __future__ import annotations

import math
import random

import pytest
import torch

from scorec.core import expr as E
from scorec.core.expr import BinOp, Call, Neg, Num, Var
from scorec.core.expr_parser import parse_expr

TS = (0.0, 1e-3, 0.1, 0.37, 0.5, 0.9, 1.0)
UNARY_SAFE = ("exp", "tanh", "sin", "cos", "sigmoid", "abs", "expm1")  # defined and tame on bounded inputs
N_TREES = 400


def run_torch(code: str, t: float):
    """Evaluate printer output on a float64 tensor; only torch, math (for named constants), the
    builtins min, max, abs (for functions of constants alone) and t are in scope."""
    scope = {"torch": torch, "math": math, "min": min, "max": max, "abs": abs, "__builtins__": {}}
    value = eval(code, scope, {"t": torch.tensor([t], dtype=torch.float64)})
    return float(value[0]) if isinstance(value, torch.Tensor) else float(value)


def bounded(e):
    """A subtree with values in (-1, 1), whatever e's value: keeps exp/pow finite."""
    return Call("tanh", (e,))


def positive(e):
    """A subtree with values >= 1: safe under sqrt, log, division and as a pow base."""
    return BinOp("+", Call("abs", (e,)), Num(1.0))


def random_expr(rng: random.Random, depth: int):
    if depth == 0 or rng.random() < 0.2:
        r = rng.random()
        if r < 0.5:
            return Var("t")
        if r < 0.6:
            return Var(rng.choice(["pi", "e"]))
        value = rng.choice([0.0, 1.0, 2.0, 0.5, -1.0, -2.0, 3.0, rng.uniform(-5, 5), rng.uniform(-1e-3, 1e-3)])
        return Num(value)
    a = random_expr(rng, depth - 1)
    kind = rng.random()
    if kind < 0.1:
        return Neg(a)
    if kind < 0.5:
        b = random_expr(rng, depth - 1)
        op = rng.choice(["+", "-", "*", "/", "**"])
        if op == "/":
            b = positive(b) if rng.random() < 0.5 else Neg(positive(b))
        if op == "**":
            if rng.random() < 0.5:
                return BinOp("**", positive(a), bounded(b))  # positive base, real exponent
            return BinOp("**", a, Num(float(rng.choice([2, 3, -1, -2]))) if rng.random() < 0.7 else Num(0.5))
        return BinOp(op, a, b)
    if kind < 0.8:
        return Call(rng.choice(UNARY_SAFE), (bounded(a) if rng.random() < 0.5 else a,))
    if kind < 0.9:
        return Call(rng.choice(["sqrt", "log", "log1p"]), (positive(a),))
    b = random_expr(rng, depth - 1)
    return Call(rng.choice(["min", "max"]), (a, b) if rng.random() < 0.5 else (a, Num(rng.uniform(-2, 2))))


def _finite_everywhere(e) -> bool:
    try:
        return all(math.isfinite(E.evaluate(e, {"t": t})) for t in TS)
    except (ValueError, OverflowError, ZeroDivisionError, TypeError):
        return False


def random_trees():
    rng = random.Random(20240607)
    trees = []
    while len(trees) < N_TREES:
        e = random_expr(rng, rng.randint(1, 6))
        if "t" in E.free_vars(e) and _finite_everywhere(e):
            trees.append(e)
    return trees


TREES = random_trees()


def close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-9)


def test_random_trees_print_to_torch_faithfully():
    # integer powers of negative bases and pow of pow: make sure the generator covers the hard cases
    texts = [E.to_torch(e) for e in TREES]
    assert sum("torch.clamp" in s for s in texts) > 10 and sum(" ** " in s for s in texts) > 50
    for e, code in zip(TREES, texts):
        assert "__" not in code and "import" not in code
        for t in TS:
            expected = E.evaluate(e, {"t": t})
            got = run_torch(code, t)
            assert close(got, expected), f"{E.to_text(e)} -> {code} at t={t}: {got} != {expected}"


def test_random_trees_text_reparses_to_the_same_function():
    for e in TREES:
        text = E.to_text(e)
        back = parse_expr(text)
        for t in TS:
            assert E.evaluate(back, {"t": t}) == pytest.approx(E.evaluate(e, {"t": t}), rel=1e-12, abs=1e-12), text
        assert E.to_text(back) == text  # printing is a fixpoint after one round trip


def test_random_trees_fold_keeps_the_value_and_leaves_no_constant_subtree():
    def constant_subtrees(node):
        if isinstance(node, (Neg, BinOp, Call)) and not (E.free_vars(node) - set(E.CONSTANTS)):
            yield node
        for child in (getattr(node, "operand", None), getattr(node, "left", None), getattr(node, "right", None),
                      *getattr(node, "args", ())):
            if child is not None:
                yield from constant_subtrees(child)

    for e in TREES:
        folded = E.fold(e)
        assert list(constant_subtrees(folded)) == [], E.to_text(folded)
        assert not (E.free_vars(folded) & set(E.CONSTANTS))
        for t in TS:
            assert close(E.evaluate(folded, {"t": t}), E.evaluate(e, {"t": t}))


@pytest.mark.parametrize("text, printed, t, value", [
    ("-t**2", "-t ** 2", 3.0, -9.0),
    ("(-t)**2", "(-t) ** 2", 3.0, 9.0),
    ("(-2)**t", "(-2) ** t", 3.0, -8.0),
    ("2**-t", "2 ** (-t)", 1.0, 0.5),
    ("2**t**2", "2 ** t ** 2", 3.0, 512.0),
    ("(2**t)**2", "(2 ** t) ** 2", 3.0, 64.0),
    ("1-(t-2)", "1 - (t - 2)", 5.0, -2.0),
    ("1-t-2", "1 - t - 2", 5.0, -6.0),
    ("1-(t+2)", "1 - (t + 2)", 5.0, -6.0),
    ("1+(t-2)", "1 + (t - 2)", 5.0, 4.0),
    ("8/(t*2)", "8 / (t * 2)", 2.0, 2.0),
    ("8/t*2", "8 / t * 2", 2.0, 8.0),
    ("8/(t/2)", "8 / (t / 2)", 2.0, 8.0),
    ("2*(t*3)", "2 * (t * 3)", 2.0, 12.0),
    ("(1+t)*(1-t)", "(1 + t) * (1 - t)", 0.5, 0.75),
    ("-(t+1)", "-(t + 1)", 1.0, -2.0),
    ("t*-2", "t * -2", 3.0, -6.0),
    ("t - -t", "t - -t", 3.0, 6.0),
    ("sqrt(t)**3", "sqrt(t) ** 3", 4.0, 8.0),
])
def test_precedence_prints_correctly(text, printed, t, value):
    e = parse_expr(text)
    assert E.to_text(e) == printed
    assert E.evaluate(e, {"t": t}) == pytest.approx(value)
    assert E.evaluate(parse_expr(E.to_text(e)), {"t": t}) == pytest.approx(value)
    assert run_torch(E.to_torch(e), t) == pytest.approx(value)


def test_to_torch_parenthesises_folded_negative_constants():
    assert E.to_torch(parse_expr("(-2)**t")) == "(-2.0) ** t"
    assert E.to_torch(parse_expr("(0-2)**t")) == "(-2.0) ** t"  # a folded subtree, not a literal
    assert E.to_torch(parse_expr("t**(0-2)")) == "t ** (-2)"
    assert E.to_torch(parse_expr("-2*t")) == "-2.0 * t"
    assert E.to_torch(parse_expr("2**-t")) == "2.0 ** (-t)"


def test_fold_turns_constant_subtrees_into_numbers():
    e = E.fold(parse_expr("2*pi*t + log(e) + sqrt(4)*t**(1+1)"))
    assert e == BinOp("+", BinOp("+", BinOp("*", Num(2 * math.pi), Var("t")), Num(1.0)),
                      BinOp("*", Num(2.0), BinOp("**", Var("t"), Num(2.0))))
    assert E.fold(parse_expr("exp(-0.5*(20-0.1))")) == Num(math.exp(-0.5 * (20 - 0.1)))
    assert E.fold(parse_expr("1*t + 0")) == Var("t")
    assert E.fold(parse_expr("t/1 - 0")) == Var("t")
    assert E.fold(parse_expr("-(-(t))")) == Neg(Neg(Var("t")))
    assert E.fold(parse_expr("-(2*3)")) == Num(-6.0)
    code = E.to_torch(parse_expr("t * (19.9 + 0.1) / 2"))
    assert code == "t * 20.0 / 2.0"


@pytest.mark.parametrize("text, code", [
    ("min(t, 2)", "torch.clamp(t, max=2.0)"),
    ("min(2, t)", "torch.clamp(t, max=2.0)"),
    ("max(t, 0.5)", "torch.clamp(t, min=0.5)"),
    ("max(1/2, t)", "torch.clamp(t, min=0.5)"),
    ("min(t*2, 1+1)", "torch.clamp(t * 2.0, max=2.0)"),
    ("max(t, -1)", "torch.clamp(t, min=-1.0)"),
    ("min(t, t**2)", "torch.minimum(t, t ** 2)"),
    ("max(exp(t), t)", "torch.maximum(torch.exp(t), t)"),
])
def test_min_max_print_as_clamp(text, code):
    e = parse_expr(text)
    assert E.to_torch(e) == code
    for t in TS + (2.5, -3.0):
        assert run_torch(code, t) == pytest.approx(E.evaluate(e, {"t": t}))


def test_every_elementary_function_prints_to_a_torch_function():
    for name, (arity, fn) in E.ELEMENTARY.items():
        args = (Var("t"),) if arity == 1 else (Var("t"), BinOp("*", Num(0.5), Var("t")))
        e = Call(name, args)
        code = E.to_torch(e)
        assert code.startswith("torch."), code
        for t in (0.1, 0.5, 0.9):
            assert close(run_torch(code, t), E.evaluate(e, {"t": t})), code


def test_numbers_print_as_exact_float_literals():
    for v in (0.1, 1e-5, 19.9, 1 / 3, 2.0**-30, 6.02e23, -0.0, 123456789.0, 1e300):
        code = E.to_torch(BinOp("*", Num(v), Var("t")))
        literal = code.split(" * ")[0].strip("()")
        assert float(literal) == v and ("." in literal or "e" in literal), literal
        assert E.evaluate(parse_expr(E.to_text(BinOp("*", Num(abs(v)), Var("t")))), {"t": 1.0}) == abs(v)
    with pytest.raises(ValueError):
        E.format_number(float("inf"))
    with pytest.raises(ValueError):
        E.format_number(float("nan"))


@pytest.mark.parametrize("text", ["(-1)**0.5", "(0-t)**0.5", "(-8)**(1/3)"])
def test_pow_with_a_complex_result_is_a_domain_error(text):
    """Python's (-1) ** 0.5 is a complex number; the interpreter must refuse it like sqrt(-1)."""
    e = parse_expr(text)
    with pytest.raises(ValueError):
        E.evaluate(e, {"t": 0.5})
    if not E.free_vars(e) - set(E.CONSTANTS):
        with pytest.raises(ValueError):
            E.fold(e)
    assert E.evaluate(parse_expr("(-2)**3"), {}) == -8.0  # integer powers of negative numbers stay real
