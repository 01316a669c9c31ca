"""A forward SDE written as an equation: `dx = <drift> dt + <diffusion> dw` (DESIGN.md §4).

The drift must be affine in x, f(x, t) = a(t) x + b(t), and the diffusion g(t) free of x:
then x_t | x_0 is Gaussian, N(m(t) x_0 + mu(t), s(t)^2 I), with

    m(t) = exp(int_0^t a),   s(t)^2 = m(t)^2 int_0^t g^2 / m^2,   mu(t) = m(t) int_0^t b / m.

These are derived in closed form where the integrals have one: for polynomial rates of the
usual kinds without sympy (_polynomial_kernel.py), otherwise with sympy (imported only
here, only for a spec that needs it), and else tabulated by quadrature at compile time
(float64) and interpolated in the emitted program. Either way the result is checked
against the quadrature before it is used (_sde_kernel.py), and cached by content
(_kernel_cache.py).
"""

from __future__ import annotations

import builtins
import keyword
import math
import re
from typing import Literal

from pydantic import Field

from ...core import expr as E
from ...core.diagnostics import Span, SpecError, did_you_mean
from ...core.hints import DefineHelper, hint
from ...core.expr_parser import parse_expr
from ...core.ir import Constant, Definition
from ...core.sde_equation import parse_sde_equation
from ..options import Probability, Section
from ..registry import FAMILIES, component
from ._gaussian import CONTINUOUS_TRAITS, AffineGaussianSDENode, GaussianSDENode, KernelTable, TrainingTimeOption
from ._sde_kernel import derive_kernel

t = E.var("t")
HELPER_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

# Names the process's own emitted functions take, and names emitted code already uses:
# a helper may not take them (`beta` may: it is the usual noise rate, callable from weightings).
_OWN = ("alpha", "sigma", "g", "mean_shift", "log_alpha", "variance", "hermite", "drift", "diffusion",
        "drift_coef", "drift_offset")
_RESERVED = frozenset(
    set(_OWN) | set(E.ELEMENTARY) | set(E.CONSTANTS) | {"t", "x", "i", "dt", "dw", "dx"}
    | {n for f in FAMILIES.values() for n in f.defines}
    | {n for f in FAMILIES.values() for tr in f.traits.values() for n in tr.names}
    | {"torch", "math", "np", "nn", "json", "os", "sys", "tempfile", "time", "bcast", "main", "sample", "train"}
    | set(dir(builtins))
)


@component("process", traits=CONTINUOUS_TRAITS, template="process/_gaussian_sde.py.j2")
class SDEProcess(TrainingTimeOption):
    """dx = (a(t) x + b(t)) dt + g(t) dw, written as an equation."""

    kind: Literal["sde"]
    equation: str = Field(..., description="the forward SDE: dx = <drift> dt + <diffusion> dw")
    where: dict[str, str] = Field(default_factory=dict, description="helper functions of t, e.g. beta: 0.1 + 19.9*t")
    t_eps: Probability = Field(1e-3, description="smallest time used in training and sampling")
    kernel: Literal["auto", "quadrature"] = Field(
        "auto", description="auto: closed form where sympy finds one, else tables; quadrature: always tables")

    def lower(self, ctx) -> GaussianSDENode:
        helpers = self._helpers(ctx)
        functions = set(E.ELEMENTARY) | set(helpers)
        span = ctx.text_span("equation") or ctx.span("equation")
        try:
            drift, diffusion, (drift_span, diffusion_span) = parse_sde_equation(
                self.equation, span, variables=("t", "x"), functions=functions)
        except SpecError as exc:
            raise _undefined_helper(exc, helpers) from None
        coef, offset = _affine(drift, drift_span)
        _free_of_x(diffusion, diffusion_span)

        order = _dependency_order(helpers, ctx)
        definitions = [Definition(name, helpers[name], f"{name}(t) = {self.where[name]}, from the spec")
                       for name in order]
        bodies = {d.name: d.expr for d in definitions}

        def inline(e: E.Expr) -> E.Expr:
            return E.substitute(e, {n: (lambda arg, n=n: E.replace_var(inline(bodies[n]), "t", arg)) for n in bodies})

        a, b, g = inline(coef), inline(offset), inline(diffusion)
        shifted = not (E.is_scalar(b) and E.fold(b) == E.Num(0.0))
        # a closed form changes what is emitted, never whether the spec is valid: check skips its search
        tables, closed = derive_kernel(a, b, g, shifted, "quadrature" if ctx.checking else self.kernel, span)
        constants = (Constant("T_EPS", self.t_eps, "smallest time used by training and sampling"),)
        if closed is not None:
            log_alpha, var, mu = closed
            definitions += [
                Definition("alpha", E.call("exp", log_alpha), "mean coefficient m(t) = exp(int_0^t a)"),
                Definition("sigma", E.call("sqrt", var), "std s(t) = sqrt(m(t)^2 int_0^t g^2 / m^2)"),
            ]
            if shifted:
                definitions.append(Definition("mean_shift", mu, "mean shift mu(t) = m(t) int_0^t b / m"))
            used: tuple[KernelTable, ...] = ()
        else:
            used = tuple(tb for tb in tables if shifted or tb.name != "mean_shift")
            definitions += [
                Definition("alpha", E.call("exp", E.call("log_alpha", t)), "mean coefficient m(t) = exp(int_0^t a)"),
                Definition("sigma", E.call("sqrt", E.call("max", E.call("variance", t), E.num(0.0))),
                           "std s(t) = sqrt(m(t)^2 int_0^t g^2 / m^2)"),
            ]
        definitions.append(Definition("g", diffusion, "diffusion g(t), as the equation states it"))
        by_name = {tb.name: tb for tb in tables}
        prior_std = math.sqrt(max(by_name["variance"](1.0), 0.0))
        prior_mean = by_name["mean_shift"](1.0) if shifted else 0.0
        if not prior_std > 0:
            raise SpecError("the SDE adds no noise: its kernel's variance at t = 1 is 0", diffusion_span,
                            "the diffusion term must be non-zero somewhere on [0, 1]", code="E0502")
        return AffineGaussianSDENode(
            kind="sde", equation=" ".join(self.equation.split()), constants=constants,
            definitions=tuple(definitions), drift_coef=coef, prior_std=prior_std,
            drift_offset=offset, mean_shift=shifted, prior_mean=prior_mean, tables=used,
            training_time=self.training_time,
        )

    def _helpers(self, ctx) -> dict[str, E.Expr]:
        """Parse `where:` helpers (functions of t that may call each other)."""
        names = set(self.where)
        out = {}
        for name, text in self.where.items():
            key_span = ctx.source.span_of(ctx.path + ("where", name), key=True)
            if not HELPER_NAME.match(name) or keyword.iskeyword(name):
                raise SpecError(f"helper name '{name}' is not a valid function name", key_span,
                                "use lowercase letters, digits and '_', starting with a letter, e.g. beta",
                                code="E0503")
            if name in _RESERVED and name != "beta":
                raise SpecError(f"helper name '{name}' is taken", key_span,
                                "the process defines alpha, sigma, g and the like itself; choose another name",
                                code="E0503")
            span = ctx.text_span("where", name) or ctx.span("where", name)
            try:
                out[name] = parse_expr(text, span, variables=("t",), functions=set(E.ELEMENTARY) | names)
            except SpecError as exc:
                raise _undefined_helper(exc, names) from None
        return out


def _undefined_helper(exc: SpecError, helpers) -> SpecError:
    """'function f is not allowed' reads, for an equation, as an undefined helper."""
    m = re.match(r"function '(\w+)' is not allowed", exc.message)
    if not m:
        return exc
    name = m.group(1)
    advice = did_you_mean(name, [*helpers, *E.ELEMENTARY]) or hint("define it ", DefineHelper(name, "0.1 + 19.9 * t"))
    return SpecError(f"undefined helper function '{name}'", exc.span, advice, "E0503")


def _dependency_order(helpers: dict[str, E.Expr], ctx) -> list[str]:
    """Helpers in an order where each comes after those it calls; a cycle is an error."""
    order: list[str] = []
    state: dict[str, int] = {}

    def visit(name: str, chain: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = " -> ".join(chain[chain.index(name):] + [name])
            raise SpecError(f"helper functions call each other in a cycle: {cycle}",
                            ctx.source.span_of(ctx.path + ("where", name), key=True), "a helper is a formula in t",
                            code="E0503")
        state[name] = 1
        for call in E.call_nodes(helpers[name]):
            if call.func in helpers:
                visit(call.func, chain + [name])
        state[name] = 2
        order.append(name)

    for name in helpers:
        visit(name, [])
    return order


# ---------------------------------------------------------------------------- affine check


def _has_x(e: E.Expr) -> bool:
    return "x" in E.free_vars(e)


def _first_x(e: E.Expr) -> E.Expr:
    """The first occurrence of x in e (for the caret)."""
    stack = [e]
    while stack:
        node = stack.pop(0)
        if isinstance(node, E.Var) and node.name == "x":
            return node
        stack += list(getattr(node, "args", ())) + [c for c in (getattr(node, "operand", None),
                                                                getattr(node, "left", None),
                                                                getattr(node, "right", None)) if c is not None]
    return e


_NO_KERNEL = "without an affine drift a(t) x + b(t) and a diffusion free of x, x_t | x_0 is not Gaussian"


def _not_affine(node: E.Expr, why: str, fallback: Span) -> SpecError:
    return SpecError(f"the drift is not affine in x: {why}, so the SDE has no Gaussian kernel",
                     node.span or fallback, _NO_KERNEL, code="E0502")


def _affine(e: E.Expr, span: Span) -> tuple[E.Expr, E.Expr]:
    """(a, b) with e = a x + b, from the tree's structure; else a located error saying why."""
    zero, one = E.num(0.0), E.num(1.0)
    if isinstance(e, E.Var):
        return (one, zero) if e.name == "x" else (zero, e)
    if isinstance(e, E.Num):
        return zero, e
    if isinstance(e, E.Neg):
        a, b = _affine(e.operand, span)
        return E.fold(E.Neg(a), keep_names=True), E.fold(E.Neg(b), keep_names=True)
    if isinstance(e, E.Call):
        if _has_x(e):
            return _raise(_not_affine(e, f"x appears inside {e.func}(...)", span))
        return zero, e
    if isinstance(e, E.BinOp):
        if not _has_x(e):
            return zero, e
        if e.op in "+-":
            (a1, b1), (a2, b2) = _affine(e.left, span), _affine(e.right, span)
            return _combine(e.op, a1, a2), _combine(e.op, b1, b2)
        if e.op == "*":
            if _has_x(e.left) and _has_x(e.right):
                return _raise(_not_affine(e, "it multiplies x by x", span))
            scale, inner = (e.left, e.right) if not _has_x(e.left) else (e.right, e.left)
            a, b = _affine(inner, span)
            left = not _has_x(e.left)
            return _combine("*", scale, a, left), _combine("*", scale, b, left)
        if e.op == "/":
            if _has_x(e.right):
                return _raise(_not_affine(e, "it divides by an expression in x", span))
            a, b = _affine(e.left, span)
            return _combine("/", a, e.right), _combine("/", b, e.right)
        if e.op == "**":
            power = E.fold(e.right) if not _has_x(e.right) else None
            if power == E.Num(1.0):
                return _affine(e.left, span)
            return _raise(_not_affine(e, f"it raises x to the power {E.to_text(e.right)}"
                                      if power is not None else "x appears in an exponent", span))
    raise TypeError(e)


def _is_zero(e: E.Expr) -> bool:
    return E.is_scalar(e) and E.fold(e) == E.Num(0.0)


def _combine(op: str, p: E.Expr, q: E.Expr, scale_left: bool = True) -> E.Expr:
    """p op q, with zeros and ones dropped (so that b = 0 reads 0, and a = -0.5 beta(t) stays that)."""
    if op == "*":
        if _is_zero(q):
            return E.num(0.0)
        if E.is_scalar(q) and E.fold(q) == E.Num(1.0):
            return p
        return E.mul(p, q) if scale_left else E.mul(q, p)
    if op == "/":
        return E.num(0.0) if _is_zero(p) else E.div(p, q)
    if _is_zero(q):
        return p
    if _is_zero(p):
        return q if op == "+" else E.fold(E.Neg(q), keep_names=True)
    return E.BinOp(op, p, q)


def _raise(error: SpecError):
    raise error


def _free_of_x(e: E.Expr, span: Span) -> None:
    if _has_x(e):
        node = _first_x(e)
        raise SpecError("the diffusion depends on x, so the SDE has no Gaussian kernel", node.span or span,
                        "the diffusion must be a function of t alone, e.g. sqrt(beta(t))", code="E0502")
