"""Symbolic and numeric calculus over the Expr AST, for kernels derived from equations.

* :func:`to_sympy` / :func:`from_sympy`: Expr <-> sympy, over the whitelisted functions
  only; a sympy result that uses anything else (erf, Ei, an unevaluated Integral,
  Piecewise) has no Expr form, and :func:`from_sympy` returns None.
* :func:`integrate`: int_0^t of an expression in t, in closed form, by a fixed structural
  rule (never a clock: the same equation gives the same kernel on any machine).
* :func:`evaluate_array`: an Expr over numpy arrays (vectorised, float64; never eval).

sympy and numpy are imported on first use: `scorec check` of a spec that derives
nothing never pays for them.
"""

from __future__ import annotations

import math
from typing import Any, Callable

from ...core import expr as E

_SYMPY_FUNCS = {"sqrt", "exp", "log", "sin", "cos", "tan", "tanh"}

# What sympy is asked to integrate, bounded by the integrand's structure (see integrate()).
MAX_OPS = 80  # sympy.count_ops of an integrand
MAX_POWER = 8  # largest integer power of a sum (expanded) or of t (integrated by parts)
MAX_TERMS = 64  # terms of the expanded integrand, bounded before expanding


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


def integrate(s: Any) -> Any | None:
    """int_0^t s(u) du in closed form (a sympy expression in t), or None, by a fixed rule:

    1. size: an integrand of more than MAX_OPS operations, or whose expansion would have more
       than MAX_TERMS terms (an integer power above MAX_POWER of a sum), is not tried;
    2. termwise: when every term of the expanded integrand is c u^n f(k u + d) with n <= MAX_POWER
       and f one of 1, exp, sin, cos (or a number to the power k u + d), integration by parts
       in closed form (_by_parts: n + 1 terms, no search);
    3. else, when no trigonometric function occurs: the Risch algorithm (sympy's risch_integrate,
       a decision procedure over exponential and logarithmic extensions: a NonElementaryIntegral
       in its answer proves there is no closed form);
    4. else None, and the kernel is tabulated.

    What is tried depends only on the expression, never on time, so one equation gives one kernel
    (and one program) on every machine; the limits of step 1 bound each step's work."""
    sp = sympy()
    t, u = symbol("t"), symbol("u")
    if s == 0:
        return sp.Integer(0)
    if sp.count_ops(s) > MAX_OPS or _expanded_terms(s) > MAX_TERMS:
        return None
    f = sp.expand(s.subs(t, u))
    parts = [_by_parts(sp, term, u) for term in sp.Add.make_args(f)]
    if all(p is not None for p in parts):
        antiderivative = sp.Add(*parts)
    elif not f.has(sp.sin, sp.cos, sp.tan, sp.tanh):
        from sympy.integrals.risch import risch_integrate

        try:
            antiderivative = risch_integrate(f, u)
        except (NotImplementedError, ValueError, TypeError, ZeroDivisionError):  # a case Risch does not cover
            return None
    else:
        return None
    if antiderivative.has(sp.Integral) or antiderivative.has(sp.Piecewise):
        return None
    at_zero = antiderivative.subs(u, 0)
    if not at_zero.is_finite:
        return None
    return antiderivative.subs(u, t) - at_zero


def _expanded_terms(s: Any) -> int:
    """An upper bound on the number of terms sp.expand(s) has (read off the tree, without expanding)."""
    if s.is_Add:
        return sum(_expanded_terms(a) for a in s.args)
    if s.is_Mul:
        return math.prod(_expanded_terms(a) for a in s.args)
    if s.is_Pow and s.exp.is_Integer and s.exp > 0 and s.base.is_Add:
        return MAX_TERMS + 1 if s.exp > MAX_POWER else _expanded_terms(s.base) ** int(s.exp)
    return 1


def _by_parts(sp: Any, term: Any, u: Any) -> Any | None:
    """An antiderivative of c u^n f(k u + d) (f: exp, sin, cos or b^(.), or none), or None for any
    other term: sum_j (-1)^j (u^n)^(j) F_(j+1), F_m the m-th antiderivative of f(k u + d)."""
    power, function = 0, None
    for factor in sp.Mul.make_args(term):
        if not factor.has(u):
            continue
        if factor == u:
            power += 1
        elif factor.is_Pow and factor.base == u and factor.exp.is_Integer and factor.exp > 0:
            power += int(factor.exp)
        elif function is None and isinstance(factor, (sp.exp, sp.sin, sp.cos)):
            function = factor
        elif function is None and factor.is_Pow and factor.base.is_Number and factor.base > 0:
            function = factor
        else:
            return None
    if power > MAX_POWER:
        return None
    coefficient = term.as_independent(u, as_Add=False)[0]
    monomial = u**power
    if function is None:
        return coefficient * u ** (power + 1) / (power + 1)
    argument = function.exp if function.is_Pow else function.args[0]
    if not (argument.is_polynomial(u) and sp.degree(argument, u) == 1):
        return None
    rate = sp.diff(argument, u)  # k
    if function.is_Pow:
        rate = rate * sp.log(function.base)

    def antiderivative(m: int) -> Any:
        """The m-th antiderivative of function (as a function of u)."""
        if isinstance(function, (sp.sin, sp.cos)):  # sin(z - m pi/2), cos(z - m pi/2) over k^m
            cycle = [sp.sin(argument), -sp.cos(argument), -sp.sin(argument), sp.cos(argument)]
            return cycle[(m + (3 if isinstance(function, sp.cos) else 0)) % 4] / rate**m
        return function / rate**m

    total = sp.Integer(0)
    for j in range(power + 1):
        total += (-1) ** j * sp.diff(monomial, u, j) * antiderivative(j + 1)
    return coefficient * total


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
