"""The kernel of an `sde` process whose rates are polynomials in t, derived without sympy.

Importing sympy alone costs about 0.8 s, more than `scorec check` may take in all. The most
common equations need none of it: with a(t) and b(t) polynomials and g(t)^2 a polynomial
(g = sqrt(beta(t)), a constant, ...), the kernel is elementary and decided here exactly:

    log m(t) = A(t) = int_0^t a                      (a polynomial)
    a = 0:   s(t)^2 = int_0^t g^2,  mu(t) = int_0^t b  (polynomials)
    else, when g^2 = c (-2 a) and b = k (-a) for constants c, k (the VP family, Ornstein-Uhlenbeck,
    a drift towards a fixed point):  s(t)^2 = c (1 - exp(2 A)),  mu(t) = k (1 - exp(A))

Coefficients are exact fractions of the numbers as written (0.1 is 1/10, as sympy's
nsimplify reads it), rounded once at the end. Anything else (sub-VP, a sin in a rate) is
left to sympy. Either way the result is checked against the quadrature before it is used.
"""

from __future__ import annotations

from fractions import Fraction

from ...core import expr as E

Poly = dict[int, Fraction]  # degree -> non-zero coefficient
Closed = tuple[E.Expr, E.Expr, E.Expr | None]
t = E.var("t")


def polynomial_kernel(a: E.Expr, b: E.Expr, g: E.Expr, shifted: bool) -> Closed | None:
    """(log m, s^2, mu or None) as Exprs in t, or None when a rate is not of the forms above."""
    pa, g2 = poly(a), square(g)
    pb = poly(b) if shifted else {}
    if pa is None or g2 is None or pb is None:
        return None
    log_m = integral(pa)
    if not pa:
        return to_expr(log_m), to_expr(integral(g2)), to_expr(integral(pb)) if shifted else None
    c, k = ratio(g2, scale(pa, Fraction(-2))), ratio(pb, scale(pa, Fraction(-1)))
    if c is None or k is None:
        return None
    return to_expr(log_m), one_minus_exp(c, scale(log_m, Fraction(2))), one_minus_exp(k, log_m) if shifted else None


def poly(e: E.Expr) -> Poly | None:
    """The polynomial in t that e is, or None."""
    if isinstance(e, E.Num):
        return _clean({0: Fraction(repr(e.value))})
    if isinstance(e, E.Var):
        return {1: Fraction(1)} if e.name == "t" else None
    if isinstance(e, E.Neg):
        p = poly(e.operand)
        return None if p is None else scale(p, Fraction(-1))
    if isinstance(e, E.BinOp):
        return _binop(e)
    return None


def _binop(e: E.BinOp) -> Poly | None:
    p, q = poly(e.left), poly(e.right)
    if p is None or q is None:
        return None
    if e.op in "+-":
        return add(p, q if e.op == "+" else scale(q, Fraction(-1)))
    if e.op == "*":
        return multiply(p, q)
    if e.op == "/":
        return scale(p, 1 / q[0]) if set(q) == {0} else None
    if e.op == "**" and set(q) <= {0} and q.get(0, Fraction(0)).denominator == 1 and 0 <= q.get(0, 0) <= 16:
        out: Poly = {0: Fraction(1)}
        for _ in range(int(q.get(0, 0))):
            out = multiply(out, p)
        return out
    return None


def square(e: E.Expr) -> Poly | None:
    """g^2 as a polynomial: g a polynomial, sqrt(P), or products, quotients and negations of those."""
    p = poly(e)
    if p is not None:
        return multiply(p, p)
    if isinstance(e, E.Call) and e.func == "sqrt":
        return poly(e.args[0])
    if isinstance(e, E.Neg):
        return square(e.operand)
    if isinstance(e, E.BinOp) and e.op in "*/":
        left, right = square(e.left), square(e.right)
        if left is None or right is None:
            return None
        if e.op == "*":
            return multiply(left, right)
        return scale(left, 1 / right[0]) if set(right) == {0} else None
    return None


def _clean(p: Poly) -> Poly:
    return {k: c for k, c in p.items() if c != 0}


def add(p: Poly, q: Poly) -> Poly:
    return _clean({k: p.get(k, Fraction(0)) + q.get(k, Fraction(0)) for k in set(p) | set(q)})


def scale(p: Poly, c: Fraction) -> Poly:
    return _clean({k: v * c for k, v in p.items()})


def multiply(p: Poly, q: Poly) -> Poly:
    out: Poly = {}
    for i, x in p.items():
        for j, y in q.items():
            out[i + j] = out.get(i + j, Fraction(0)) + x * y
    return _clean(out)


def integral(p: Poly) -> Poly:
    """int_0^t p."""
    return {k + 1: c / (k + 1) for k, c in p.items()}


def ratio(p: Poly, q: Poly) -> Fraction | None:
    """The constant r with p = r q (q non-zero), or None."""
    if not p:
        return Fraction(0)
    lead = max(q)
    r = p.get(lead, Fraction(0)) / q[lead]
    return r if scale(q, r) == p else None


def _term(degree: int, coefficient: Fraction) -> E.Expr:
    power = E.num(1.0) if degree == 0 else t if degree == 1 else E.pow_(t, E.num(float(degree)))
    if degree == 0:
        return E.num(float(coefficient))
    return power if coefficient == 1 else E.mul(E.num(float(coefficient)), power)


def to_expr(p: Poly) -> E.Expr:
    """The polynomial as an Expr, highest degree first: -(4.975 * t ** 2) - 0.05 * t."""
    if not p:
        return E.num(0.0)
    out: E.Expr | None = None
    for degree in sorted(p, reverse=True):
        c = p[degree]
        term = _term(degree, abs(c))
        out = (E.Neg(term) if c < 0 else term) if out is None else (E.sub(out, term) if c < 0 else E.add(out, term))
    assert out is not None
    return out


def one_minus_exp(c: Fraction, z: Poly) -> E.Expr:
    """c (1 - exp(z)) = -c expm1(z): accurate where z is tiny (t near 0)."""
    expm1 = E.call("expm1", to_expr(z))
    if c == 0:
        return E.num(0.0)
    return E.Neg(expm1) if c == 1 else E.mul(E.num(float(-c)), expm1)
