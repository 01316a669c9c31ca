"""Time derivatives of a process's kernel, alpha'(t) and sigma'(t), in closed form.

A flow-matching velocity u = alpha'(t) x_0 + sigma'(t) z needs them. They are derived
symbolically from the process's own Definitions (the chain rule through its named
functions: d/dt int_beta(t) becomes a definition d_int_beta(t)), so the emitted code reads
like the process's and follows any edit of its constants. Where a definition calls a
function with no derivative here (a tabulated kernel, min/max), the SDE's own relations
give them instead: alpha' = c alpha, sigma' = c sigma + g^2 / (2 sigma), mean_shift' =
c mean_shift + b, for dx = (c(t) x + b(t)) dt + g(t) dw (exact too, but singular at sigma = 0).
"""

from __future__ import annotations

from . import expr as E
from .ir import Definition

t = E.var("t")
ZERO, ONE = E.num(0.0), E.num(1.0)


class NoDerivative(Exception):
    """The expression calls a function this module cannot differentiate."""


def kernel_derivatives(node, names: tuple[str, ...]) -> tuple[tuple[Definition, ...], str]:
    """(definitions, prefix): prefix + name (d_alpha, d_sigma, ...) for each of the process's functions
    `names`, with the derivatives of the helpers they call, in dependency order. The prefix is d_
    unless the process already has functions named so (an sde helper)."""
    definitions = {d.name: d for d in node.definitions}
    prefix = next(p for p in ("d_", "dt_", "ddt_") if not any(n.startswith(p) for n in definitions))
    try:
        return _chain_rule(definitions, names, prefix), prefix
    except NoDerivative:
        return _from_sde(node, names, prefix), prefix


def _chain_rule(definitions: dict[str, Definition], names: tuple[str, ...], prefix: str) -> tuple[Definition, ...]:
    done: dict[str, Definition] = {}

    def derive(name: str) -> None:
        if name in done:
            return
        body = definitions[name].expr
        for call in E.call_nodes(body):  # helpers first, so the output is in dependency order
            if call.func in definitions and call.func != name:
                derive(call.func)
        done[name] = Definition(prefix + name, tidy(diff(body, definitions, prefix)),
                                f"d/dt {name}(t), differentiated in closed form")

    for name in names:
        derive(name)
    return tuple(done.values())


def _from_sde(node, names: tuple[str, ...], prefix: str) -> tuple[Definition, ...]:
    c, offset = node.drift_coef, getattr(node, "drift_offset", ZERO)
    own = {
        "alpha": E.mul(c, E.call("alpha", t)),
        "sigma": E.add(E.mul(c, E.call("sigma", t)),
                       E.div(E.pow_(E.call("g", t), E.num(2.0)), E.mul(E.num(2.0), E.call("sigma", t)))),
        "mean_shift": E.add(E.mul(c, E.call("mean_shift", t)), offset),
    }
    why = {"alpha": "alpha' = c alpha", "sigma": "sigma' = c sigma + g^2 / (2 sigma)",
           "mean_shift": "mean_shift' = c mean_shift + b"}
    return tuple(Definition(prefix + n, tidy(own[n]), f"d/dt {n}(t) from the SDE dx = (c x + b) dt + g dw: {why[n]}")
                 for n in names)


def diff(e: E.Expr, definitions: dict, prefix: str = "d_") -> E.Expr:
    """d e / dt. Calls of `definitions` differentiate to calls of prefix + name (chain rule)."""
    if isinstance(e, E.Num):
        return ZERO
    if isinstance(e, E.Var):
        return ONE if e.name == "t" else ZERO
    if isinstance(e, E.Neg):
        return E.Neg(diff(e.operand, definitions, prefix))
    if isinstance(e, E.BinOp):
        return _diff_binop(e, definitions, prefix)
    if isinstance(e, E.Call):
        (arg,) = e.args if len(e.args) == 1 else (None,)
        if arg is None:
            raise NoDerivative(e.func)
        inner = diff(arg, definitions, prefix)
        if e.func in definitions:
            outer = E.call(prefix + e.func, arg)
        elif e.func in _OUTER:
            outer = _OUTER[e.func](arg)
        else:
            raise NoDerivative(e.func)
        return E.mul(outer, inner)
    raise TypeError(e)


def _diff_binop(e: E.BinOp, definitions: dict, prefix: str) -> E.Expr:
    a, b = e.left, e.right
    da, db = diff(a, definitions, prefix), diff(b, definitions, prefix)
    if e.op == "+":
        return E.add(da, db)
    if e.op == "-":
        return E.sub(da, db)
    if e.op == "*":
        return E.add(E.mul(da, b), E.mul(a, db))
    if e.op == "/":
        return E.div(E.sub(E.mul(da, b), E.mul(a, db)), E.pow_(b, E.num(2.0)))
    # a ** b: a constant exponent, a constant base, or the general a^b (b' log a + b a' / a)
    if "t" not in E.free_vars(b):
        return E.mul(E.mul(b, E.pow_(a, E.sub(b, ONE))), da)
    if "t" not in E.free_vars(a):
        return E.mul(E.mul(e, E.call("log", a)), db)
    return E.mul(e, E.add(E.mul(db, E.call("log", a)), E.div(E.mul(b, da), a)))


# d/du f(u) for the elementary functions of one argument
_OUTER = {
    "sqrt": lambda u: E.div(ONE, E.mul(E.num(2.0), E.call("sqrt", u))),
    "exp": lambda u: E.call("exp", u),
    "expm1": lambda u: E.call("exp", u),
    "log": lambda u: E.div(ONE, u),
    "log1p": lambda u: E.div(ONE, E.add(ONE, u)),
    "sin": lambda u: E.call("cos", u),
    "cos": lambda u: E.Neg(E.call("sin", u)),
    "tan": lambda u: E.div(ONE, E.pow_(E.call("cos", u), E.num(2.0))),
    "tanh": lambda u: E.sub(ONE, E.pow_(E.call("tanh", u), E.num(2.0))),
    "sigmoid": lambda u: E.mul(E.call("sigmoid", u), E.sub(ONE, E.call("sigmoid", u))),
    "abs": lambda u: E.div(u, E.call("abs", u)),
}


def tidy(e: E.Expr) -> E.Expr:
    """Drop the zeros and ones differentiation leaves (0 * x, x * 1, x - 0, --x), then fold numbers."""
    e = E.fold(e, keep_names=True)
    if isinstance(e, E.Neg):
        inner = tidy(e.operand)
        return inner.operand if isinstance(inner, E.Neg) else E.fold(E.Neg(inner), keep_names=True)
    if isinstance(e, E.Call):
        return E.Call(e.func, tuple(tidy(a) for a in e.args), e.span)
    if not isinstance(e, E.BinOp):
        return e
    a, b = tidy(e.left), tidy(e.right)
    if e.op == "*" and (a == ZERO or b == ZERO) or e.op == "/" and a == ZERO:
        return ZERO
    if e.op == "*" and a == E.num(-1.0):
        return tidy(E.Neg(b))
    if e.op in ("*", "/") and isinstance(b, E.Neg):  # a * -b = -(a * b)
        return tidy(E.Neg(E.BinOp(e.op, a, b.operand)))
    if e.op in ("*", "/") and isinstance(a, E.Neg):
        return tidy(E.Neg(E.BinOp(e.op, a.operand, b)))
    if e.op == "*" and isinstance(a, E.BinOp) and a.op == "/" and a.left == ONE:  # (1 / a) * b = b / a
        return tidy(E.div(b, a.right))
    if e.op == "-" and a == ZERO:
        return tidy(E.Neg(b))
    if e.op == "**" and b == ONE:
        return a
    out = E.fold(E.BinOp(e.op, a, b, e.span), keep_names=True)
    return out if out == e else tidy(out)
