"""Symbolic and numeric calculus over the Expr AST, for kernels derived from equations.

* :func:`to_sympy` / :func:`from_sympy`: Expr <-> sympy, over the whitelisted functions
  only; a sympy result that uses anything else (erf, Ei, an unevaluated Integral,
  Piecewise) has no Expr form, and :func:`from_sympy` returns None.
* :func:`integrate`: int_0^t of an expression in t, in closed form, within a time budget.
* :func:`evaluate_array`: an Expr over numpy arrays (vectorised, float64; never eval).

sympy and numpy are imported on first use: `scorec check` of a spec that derives
nothing never pays for them.
"""

from __future__ import annotations

import math
import signal
import threading
from contextlib import contextmanager
from typing import Any, Callable

from ...core import expr as E

_SYMPY_FUNCS = {"sqrt", "exp", "log", "sin", "cos", "tan", "tanh"}


class OutOfTime(Exception):
    """A symbolic computation exceeded its budget."""


@contextmanager
def budget(seconds: float):
    """Raise OutOfTime in the block after `seconds` (main thread only; elsewhere no limit)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "setitimer"):
        yield
        return

    def expire(signum, frame):
        raise OutOfTime()

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def sympy() -> Any:
    import sympy as sp

    return sp


def symbol(name: str = "t") -> Any:
    return sympy().Symbol(name, real=True, nonnegative=True) if name in ("t", "u") else sympy().Symbol(name, real=True)


def to_sympy(e: E.Expr, funcs: dict[str, Callable[..., Any]] | None = None) -> Any:
    """An Expr as a sympy expression; numbers become exact rationals (0.1 -> 1/10) so that
    sympy's integrator sees what the user wrote, not a binary approximation."""
    sp = sympy()
    funcs = funcs or {}
    if isinstance(e, E.Num):
        value = e.value
        return sp.nsimplify(value, rational=True) if math.isfinite(value) else sp.Float(value)
    if isinstance(e, E.Var):
        if e.name == "pi":
            return sp.pi
        if e.name == "e":
            return sp.E
        return symbol(e.name)
    if isinstance(e, E.Neg):
        return -to_sympy(e.operand, funcs)
    if isinstance(e, E.BinOp):
        a, b = to_sympy(e.left, funcs), to_sympy(e.right, funcs)
        return {"+": lambda: a + b, "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a / b,
                "**": lambda: a**b}[e.op]()
    if isinstance(e, E.Call):
        args = [to_sympy(a, funcs) for a in e.args]
        if e.func in funcs:
            return funcs[e.func](*args)
        if e.func in _SYMPY_FUNCS:
            return getattr(sp, e.func)(*args)
        named = {"log1p": lambda a: sp.log(1 + a), "expm1": lambda a: sp.exp(a) - 1,
                 "sigmoid": lambda a: 1 / (1 + sp.exp(-a)), "abs": sp.Abs, "min": sp.Min, "max": sp.Max}
        return named[e.func](*args)
    raise TypeError(e)


def from_sympy(s: Any) -> E.Expr | None:
    """The Expr of a sympy expression in t, or None when it uses anything outside the whitelist."""
    sp = sympy()
    try:
        return _from(sp, s)
    except _NoExpr:
        return None


class _NoExpr(Exception):
    pass


def _number(sp: Any, s: Any) -> E.Expr:
    value = float(s)
    if not math.isfinite(value):
        raise _NoExpr()
    return E.num(value)


def _from(sp: Any, s: Any) -> E.Expr:
    if s is sp.pi:
        return E.var("pi")
    if s is sp.E:
        return E.call("exp", E.num(1.0))
    if s.is_Number:
        return _number(sp, s)
    if s.is_Symbol:
        if s.name != "t":
            raise _NoExpr()
        return E.var("t")
    if s.is_Add:
        return _sum(sp, s)
    if s.is_Mul:
        coeff, rest = s.as_coeff_Mul()
        if coeff == -1:
            return E.Neg(_from(sp, rest))
        factors = sp.Mul.make_args(s)
        num = [f for f in factors if not (f.is_Pow and f.exp.is_negative and f.exp.is_Number)]
        den = [f.base ** (-f.exp) for f in factors if f.is_Pow and f.exp.is_negative and f.exp.is_Number]
        out = _product(sp, num) if num else E.num(1.0)
        return E.div(out, _product(sp, den)) if den else out
    if s.is_Pow:
        base, exp = s.base, s.exp
        if exp == sp.Rational(1, 2):
            return E.call("sqrt", _from(sp, base))
        if exp == -1:
            return E.div(E.num(1.0), _from(sp, base))
        if base is sp.E:
            return E.call("exp", _from(sp, exp))
        return E.pow_(_from(sp, base), _from(sp, exp))
    if isinstance(s, sp.exp):
        return E.call("exp", _from(sp, s.args[0]))
    for name in ("log", "sin", "cos", "tan", "tanh"):
        if isinstance(s, getattr(sp, name)):
            return E.call(name, _from(sp, s.args[0]))
    raise _NoExpr()


def _product(sp: Any, factors: list) -> E.Expr:
    out = _from(sp, factors[0])
    for f in factors[1:]:
        out = E.mul(out, _from(sp, f))
    return out


def _sum(sp: Any, s: Any) -> E.Expr:
    """A sum, with exp(z) - 1 printed as expm1(z): accurate where z is tiny (t near 0)."""
    terms = list(sp.Add.make_args(s))
    constant = sum((a for a in terms if a.is_Number), sp.Integer(0))
    others = [a for a in terms if not a.is_Number]
    exps = []
    for k, a in enumerate(others):
        c, rest = a.as_coeff_Mul()
        if isinstance(rest, sp.exp) and constant != 0 and c == -constant:
            exps.append((k, c, rest.args[0]))
            break
    parts: list[E.Expr] = []
    if exps:
        k, c, z = exps[0]
        others.pop(k)
        expm1 = E.call("expm1", _from(sp, z))
        parts.append(expm1 if c == 1 else E.Neg(expm1) if c == -1 else E.mul(_number(sp, c), expm1))
        constant = sp.Integer(0)
    signed: list[tuple[bool, E.Expr]] = [(False, p) for p in parts]
    for a in others:
        negative = a.as_coeff_Mul()[0] < 0
        signed.append((negative, _from(sp, -a if negative else a)))
    if constant != 0:
        signed.append((constant < 0, _number(sp, abs(constant))))
    first_negative, out = signed[0]
    out = E.Neg(out) if first_negative else out
    for negative, p in signed[1:]:
        out = E.sub(out, p) if negative else E.add(out, p)
    return out


def integrate(s: Any, seconds: float) -> Any | None:
    """int_0^t s(u) du in closed form (a sympy expression in t), or None (no closed form, or out of time)."""
    sp = sympy()
    t, u = symbol("t"), symbol("u")
    if s == 0:
        return sp.Integer(0)
    try:
        with budget(seconds):
            result = sp.integrate(s.subs(t, u), (u, 0, t))
            if result.has(sp.Integral) or result.has(sp.Piecewise):
                return None
            return result
    except OutOfTime:
        return None
    except Exception:  # sympy's integrator fails in many ways; quadrature takes over
        return None


def simplify(s: Any, seconds: float) -> Any:
    """sympy's simplify within a budget; the expression itself when out of time."""
    try:
        with budget(seconds):
            return sympy().simplify(s)
    except OutOfTime:
        return s
    except Exception:
        return s


# ---------------------------------------------------------------------------- numerics


def evaluate_array(e: E.Expr, env: dict[str, Any]) -> Any:
    """Evaluate over numpy arrays (float64), interpreting whitelisted nodes only."""
    import numpy as np

    if isinstance(e, E.Num):
        return e.value
    if isinstance(e, E.Var):
        if e.name in env:
            return env[e.name]
        return E.CONSTANTS[e.name]
    if isinstance(e, E.Neg):
        return -evaluate_array(e.operand, env)
    if isinstance(e, E.BinOp):
        a, b = evaluate_array(e.left, env), evaluate_array(e.right, env)
        if e.op == "**":
            return np.power(np.asarray(a, dtype=np.float64), b)
        return E.BINARY_OPS[e.op](a, b)
    if isinstance(e, E.Call):
        args = [np.asarray(evaluate_array(a, env), dtype=np.float64) for a in e.args]
        table = {"sqrt": np.sqrt, "exp": np.exp, "log": np.log, "log1p": np.log1p, "expm1": np.expm1,
                 "sin": np.sin, "cos": np.cos, "tan": np.tan, "tanh": np.tanh, "abs": np.abs,
                 "sigmoid": lambda a: 1.0 / (1.0 + np.exp(-a)), "min": np.minimum, "max": np.maximum}
        return table[e.func](*args)
    raise TypeError(e)
