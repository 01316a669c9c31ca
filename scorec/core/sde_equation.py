"""Parse a forward SDE written as an equation, `dx = <drift> dt + <diffusion> dw`.

The equation is lexed with the expression grammar's lexer (expr_parser.py); its two terms
are then parsed as expressions, each located in the spec on its own.
"""

from __future__ import annotations

from typing import Any, Collection

from .diagnostics import Span, SpecError
from .expr import Expr, Num
from .expr_parser import OPERATORS_HINT, ExprText, expr_grammar, parse_expr

_EQUATION_HINT = ("write the forward SDE as: dx = <drift> dt + <diffusion> dw, "
                  "e.g. dx = -0.5 * beta(t) * x dt + sqrt(beta(t)) dw")


def parse_sde_equation(
    text: str,
    span: Span | None = None,
    *,
    variables: Collection[str] = ("t", "x"),
    functions: Collection[str] | None = None,
) -> tuple[Expr, Expr, tuple[Span, Span]]:
    """Parse `dx = <drift> dt + <diffusion> dw` into (drift, diffusion, (drift span, diffusion span)).

    The equation is lexed with the expression grammar's lexer; `dx`, `dt` and `dw` are
    names at the top level of parentheses that split it into its two terms, each then
    parsed by :func:`parse_expr` with its own location in the spec (so errors inside a
    term point at the term). `x dt`, `x * dt` and a drift of `0 dt` (or none) are accepted.
    """
    base = span or Span("<equation>", 1, 1)
    ctx = ExprText(text, base, set(variables), set(functions or ()))
    if not text.strip():
        raise _error("empty equation", base, _EQUATION_HINT)
    from lark.exceptions import UnexpectedCharacters

    try:
        tokens = list(expr_grammar().lex(text))
    except UnexpectedCharacters as exc:
        raise _error(f"invalid equation: unexpected character '{text[exc.pos_in_stream]}'",
                        ctx.span(exc.pos_in_stream), OPERATORS_HINT) from None
    if len(tokens) < 2 or tokens[0].type != "NAME" or tokens[1].type != "EQUAL":
        raise _error("an SDE equation starts with 'dx ='", ctx.span(0, len(text.split("=")[0].rstrip()) or 1),
                        _EQUATION_HINT)
    if str(tokens[0]) != "dx":
        raise _error(f"the left-hand side must be 'dx', not '{tokens[0]}'", ctx.token_span(tokens[0]),
                        "the state is called x: dx = ... dt + ... dw")
    depth, dt, dw = 0, None, None
    for k, tok in enumerate(tokens[2:], start=2):
        if tok == "(":
            depth += 1
        elif tok == ")":
            depth -= 1
        elif depth == 0 and tok.type == "NAME" and str(tok) in ("dt", "dw"):
            which = dt if str(tok) == "dt" else dw
            if which is not None:
                raise _error(f"'{tok}' appears twice in the equation", ctx.token_span(tok),
                                "collect the terms: dx = <drift> dt + <diffusion> dw")
            if str(tok) == "dt":
                if dw is not None:
                    raise _error("the dt term must come before the dw term", ctx.token_span(tok), _EQUATION_HINT)
                dt = k
            else:
                dw = k
    if dw is None:
        raise _error("the equation has no noise term '... dw'", ctx.span(len(text.rstrip())),
                        "a forward SDE needs a diffusion: dx = <drift> dt + <diffusion> dw")
    if dw != len(tokens) - 1:
        raise _error("nothing may follow the 'dw' term", ctx.token_span(tokens[dw + 1]), _EQUATION_HINT)

    def term(first: int, last: int, at: Any) -> tuple[Expr, Span]:
        """Parse tokens[first:last] (a '*' before dt/dw is dropped) as one expression."""
        if last > first and tokens[last - 1] == "*":
            last -= 1
        if last <= first:  # `+ dw`: a coefficient of 1
            return Num(1.0, ctx.token_span(at)), ctx.token_span(at)
        start, end = tokens[first].start_pos, tokens[last - 1].end_pos
        sub = ctx.span(start, end)
        return parse_expr(text[start:end], base.shifted(start) if "\n" not in text[:start] else base,
                          variables=variables, functions=functions), sub

    if dt is None:
        drift, drift_span = Num(0.0), ctx.span(0, 2)
        first = 2
    else:
        drift, drift_span = term(2, dt, tokens[dt])
        first = dt + 1
        if first >= dw or tokens[first] not in ("+", "-"):
            raise _error("expected '+' between the dt and dw terms",
                            ctx.token_span(tokens[first]) if first < len(tokens) else ctx.span(len(text)),
                            _EQUATION_HINT)
        first += 1  # dx = f dt - g dw is the same law as + g dw
    diffusion, diffusion_span = term(first, dw, tokens[dw])
    return drift, diffusion, (drift_span, diffusion_span)


def _error(message: str, span: Span, hint: str | None = None) -> SpecError:
    """A malformed SDE equation (core/codes.py E0501)."""
    return SpecError(message, span, hint, "E0501")
