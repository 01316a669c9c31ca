"""The kernel of an affine SDE dx = (a(t) x + b(t)) dt + g(t) dw, derived at compile time:

    m(t) = exp(int_0^t a),   s(t)^2 = m(t)^2 int_0^t g^2 / m^2,   mu(t) = m(t) int_0^t b / m,

tabulated by quadrature (float64), and in closed form where one exists: for polynomial
rates without sympy (_polynomial_kernel.py), else with sympy within a time budget. A
closed form is used only where it agrees with the tables; both are cached by content
(_kernel_cache.py).
"""

from __future__ import annotations

from ...core import expr as E
from ...core.diagnostics import Span, SpecError
from . import _symbolic as S
from ._gaussian import KernelTable
from ._kernel_cache import cached_kernel
from ._polynomial_kernel import polynomial_kernel

TABLE_GRID = 128  # intervals of an emitted kernel table
FINE = 2**14  # intervals of the compile-time quadrature
BUDGET_S = 1.0  # seconds sympy may spend on one integral
TOLERANCE = 1e-7  # relative agreement required of a closed form with the quadrature


def derive_kernel(a: E.Expr, b: E.Expr, g: E.Expr, shifted: bool, mode: str, span: Span):
    """(tables, closed form or None) of the kernel, from the derivation cache when it has them.

    Neither sympy nor numpy is imported on a cache hit; a hit is still checked (tables
    complete, closed form agreeing with them), and a miss is derived and stored."""

    def derive():
        tables = _quadrature(a, b, g, shifted, span)
        return tables, (None if mode == "quadrature" else _closed_form(a, b, g, shifted, tables))

    return cached_kernel({"a": E.to_json(a), "b": E.to_json(b), "g": E.to_json(g), "shifted": shifted,
                          "kernel": mode, "grid": TABLE_GRID}, derive,
                         lambda tables, closed: closed is None or _agrees(closed, tables, shifted))


def _quadrature(a: E.Expr, b: E.Expr, g: E.Expr, shifted: bool, span: Span) -> tuple[KernelTable, ...]:
    """log m, s^2 and mu on [0, 1] by composite Simpson quadrature (float64, FINE intervals),
    tabulated at TABLE_GRID + 1 points with their exact slopes from the kernel's ODEs:
    (log m)' = a, (s^2)' = 2 a s^2 + g^2, mu' = a mu + b."""
    import numpy as np

    quarter = np.linspace(0.0, 1.0, 4 * FINE + 1)
    with np.errstate(all="ignore"):
        av = np.broadcast_to(np.asarray(S.evaluate_array(a, {"t": quarter}), dtype=np.float64), quarter.shape)
        half = quarter[::2]
        # log m on the half grid: Simpson on each half-interval through its quarter point
        log_m = np.concatenate([[0.0], np.cumsum((av[0:-1:2] + 4 * av[1::2] + av[2::2]) / 6 * (1.0 / (2 * FINE)))])
        gv = np.broadcast_to(np.asarray(S.evaluate_array(g, {"t": half}), dtype=np.float64), half.shape)
        bv = np.broadcast_to(np.asarray(S.evaluate_array(b, {"t": half}), dtype=np.float64), half.shape)
        h = 1.0 / FINE

        def cumulative(f: np.ndarray) -> np.ndarray:
            """int_0^{t_k} f on the coarse grid, f given on the half grid (Simpson)."""
            return np.concatenate([[0.0], np.cumsum((f[0:-1:2] + 4 * f[1::2] + f[2::2]) / 6 * h)])

        lm = log_m[::2]
        var = np.exp(2 * lm) * cumulative(gv**2 * np.exp(-2 * log_m))
        mu = np.exp(lm) * cumulative(bv * np.exp(-log_m))
        coarse = half[::2]
        a_c, g_c, b_c = av[::4], gv[::2], bv[::2]
    for name, values in (("log m", lm), ("variance", var), ("mean shift", mu)):
        if not np.all(np.isfinite(values)):
            bad = coarse[np.argmax(~np.isfinite(values))]
            raise SpecError(f"the kernel's {name} is not finite at t = {bad:.4g}", span,
                            "check that the drift and diffusion are finite on [0, 1]", code="E0502")
    step = FINE // TABLE_GRID

    def table(name: str, doc: str, values, slopes) -> KernelTable:
        # 12 significant digits: far below the quadrature's error, and above the last-bit
        # differences between CPUs' vectorised exp/sin, so the emitted bytes do not depend on the machine
        def digits(v):
            return tuple(float(f"{x:.12g}") for x in v[::step])
        return KernelTable(name, doc, digits(values), digits(slopes))

    return (
        table("log_alpha", "log m(t) = int_0^t a", lm, a_c),
        table("variance", "s(t)^2 = m(t)^2 int_0^t g^2 / m^2", var, 2 * a_c * var + g_c**2),
        table("mean_shift", "mean shift mu(t) = m(t) int_0^t b / m", mu, a_c * mu + b_c),
    )


def _closed_form(a: E.Expr, b: E.Expr, g: E.Expr, shifted: bool,
                 tables: tuple[KernelTable, ...]) -> tuple[E.Expr, E.Expr, E.Expr | None] | None:
    """(log m, s^2, mu) as Exprs in t, or None when sympy finds no closed form in budget
    (or one that disagrees with the quadrature). Polynomial rates need no sympy."""
    fast = polynomial_kernel(a, b, g, shifted)
    if fast is not None and _agrees(fast, tables, shifted):
        return fast
    sp = S.sympy()
    a_s, b_s, g_s = S.to_sympy(a), S.to_sympy(b), S.to_sympy(g)
    log_m = S.integrate(a_s, BUDGET_S)
    if log_m is None:
        return None
    m = sp.exp(log_m)
    var = _scaled_integral(a_s, g_s**2, 2, log_m)
    if var is None:
        inner = S.integrate(sp.expand(g_s**2 * sp.exp(-2 * log_m)), BUDGET_S)
        var = None if inner is None else m**2 * inner
    mu = sp.Integer(0)
    if shifted:
        mu = _scaled_integral(a_s, b_s, 1, log_m)
        if mu is None:
            inner = S.integrate(sp.expand(b_s * sp.exp(-log_m)), BUDGET_S)
            mu = None if inner is None else m * inner
    if var is None or mu is None:
        return None
    exprs = [S.from_sympy(sp.expand(log_m)), S.from_sympy(var), S.from_sympy(mu) if shifted else None]
    if exprs[0] is None or exprs[1] is None or (shifted and exprs[2] is None):
        return None
    closed = (exprs[0], exprs[1], exprs[2])
    return closed if _agrees(closed, tables, shifted) else None


def _agrees(closed: tuple[E.Expr, E.Expr, E.Expr | None], tables: tuple[KernelTable, ...], shifted: bool) -> bool:
    """Whether a closed form (log m, s^2, mu) matches the quadrature tables to TOLERANCE."""
    by_name = {tb.name: tb for tb in tables}
    checks = [(closed[0], by_name["log_alpha"]), (closed[1], by_name["variance"])]
    if shifted:
        checks.append((closed[2], by_name["mean_shift"]))
    for e, tb in checks:
        scale = max(abs(v) for v in tb.values) or 1.0
        for k in range(0, len(tb.values), 8):
            try:
                value = E.evaluate(e, {"t": k / (len(tb.values) - 1)})
            except (ValueError, ZeroDivisionError, OverflowError):
                return False
            if not abs(value - tb.values[k]) <= TOLERANCE * scale:
                return False
    return True


def _scaled_integral(a_s, f_s, power: int, log_m):
    """m^p int_0^t f / m^p in closed form when f = c (-p a) for a constant c: c (1 - m^p).

    The VP family's variance (g^2 = -2a) and a drift towards a fixed point (b = -c a).
    """
    sp = S.sympy()
    if a_s == 0:
        return None
    ratio = sp.simplify(f_s / (-power * a_s))
    if ratio.free_symbols:
        return None
    return ratio * (1 - sp.exp(power * log_m))
