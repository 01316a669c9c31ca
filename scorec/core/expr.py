"""The Expr AST: the only form in which user-written mathematics travels through scorec.

Spec fields such as `objective.weighting: "sigma(t)**2"` are parsed by the Lark grammar in
`core/expr.lark` into these nodes (see `core/expr_parser.py`). Lowering builds
further Exprs for the process kernels (m(t), s(t), f, g). Nothing here is ever handed to
eval/exec: numbers are folded by a small interpreter over whitelisted operations, and
code is produced by :func:`to_torch`, which prints only numbers, `t`, whitelisted
operators and whitelisted functions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Union

from .diagnostics import Span

# Whitelisted elementary functions: name -> (arity, python float implementation, torch printer)
ELEMENTARY: dict[str, tuple[int, Callable[..., float]]] = {
    "sqrt": (1, math.sqrt),
    "exp": (1, math.exp),
    "log": (1, math.log),
    "log1p": (1, math.log1p),
    "expm1": (1, math.expm1),
    "sin": (1, math.sin),
    "cos": (1, math.cos),
    "tan": (1, math.tan),
    "tanh": (1, math.tanh),
    "sigmoid": (1, lambda x: 1.0 / (1.0 + math.exp(-x))),
    "abs": (1, abs),
    "min": (2, min),
    "max": (2, max),
}

# Process quantities a spec expression may use: mean coefficient, std, beta, diffusion.
PROCESS_FUNCS: dict[str, str] = {
    "alpha": "mean coefficient m(t) of x_t | x_0",
    "sigma": "standard deviation s(t) of x_t | x_0",
    "beta": "noise rate beta(t) (vp, subvp)",
    "g": "diffusion coefficient g(t) of the forward SDE",
}

CONSTANTS: dict[str, float] = {"pi": math.pi, "e": math.e}


@dataclass(frozen=True)
class Num:
    value: float
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Var:
    name: str
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Neg:
    operand: "Expr"
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class BinOp:
    op: str  # one of + - * / **
    left: "Expr"
    right: "Expr"
    span: Span | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class Call:
    func: str  # an ELEMENTARY or PROCESS_FUNCS name
    args: tuple["Expr", ...]
    span: Span | None = field(default=None, compare=False, repr=False)


Expr = Union[Num, Var, Neg, BinOp, Call]
EXPR_TYPES = (Num, Var, Neg, BinOp, Call)


def _real_pow(a: float, b: float) -> float:
    """a ** b over the reals: Python gives a complex number for (-1) ** 0.5; that is a domain error here."""
    value = a**b
    if isinstance(value, complex):
        raise ValueError(f"{a!r} ** {b!r} is not a real number")
    return value


BINARY_OPS: dict[str, Callable[[float, float], float]] = {
    "+": lambda a, b: a + b,
    "-": lambda a, b: a - b,
    "*": lambda a, b: a * b,
    "/": lambda a, b: a / b,
    "**": _real_pow,
}

# Binding strength for the printer: higher binds tighter.
_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "neg": 3, "**": 4}


# ---------------------------------------------------------------------------- building


def num(v: float) -> Num:
    return Num(float(v))


def var(name: str = "t") -> Var:
    return Var(name)


def add(a: Expr, b: Expr) -> Expr:
    return BinOp("+", a, b)


def sub(a: Expr, b: Expr) -> Expr:
    return BinOp("-", a, b)


def mul(a: Expr, b: Expr) -> Expr:
    return BinOp("*", a, b)


def div(a: Expr, b: Expr) -> Expr:
    return BinOp("/", a, b)


def pow_(a: Expr, b: Expr) -> Expr:
    return BinOp("**", a, b)


def call(f: str, *args: Expr) -> Expr:
    return Call(f, tuple(args))


# ---------------------------------------------------------------------------- queries


def free_vars(e: Expr) -> set[str]:
    if isinstance(e, Var):
        return {e.name}
    if isinstance(e, Num):
        return set()
    if isinstance(e, Neg):
        return free_vars(e.operand)
    if isinstance(e, BinOp):
        return free_vars(e.left) | free_vars(e.right)
    if isinstance(e, Call):
        out: set[str] = set()
        for a in e.args:
            out |= free_vars(a)
        return out
    raise TypeError(e)


def call_nodes(e: Expr) -> list[Call]:
    """Every function call in `e`, outermost and leftmost first."""
    if isinstance(e, Call):
        return [e] + [c for a in e.args for c in call_nodes(a)]
    if isinstance(e, Neg):
        return call_nodes(e.operand)
    if isinstance(e, BinOp):
        return call_nodes(e.left) + call_nodes(e.right)
    return []


def substitute(e: Expr, funcs: dict[str, Callable[[Expr], Expr]]) -> Expr:
    """Replace calls of process quantities by their definitions, e.g. sigma(t) -> s(t)."""
    if isinstance(e, (Var, Num)):
        return e
    if isinstance(e, Neg):
        return Neg(substitute(e.operand, funcs), e.span)
    if isinstance(e, BinOp):
        return BinOp(e.op, substitute(e.left, funcs), substitute(e.right, funcs), e.span)
    if isinstance(e, Call):
        args = tuple(substitute(a, funcs) for a in e.args)
        if e.func in funcs:
            return funcs[e.func](*args)
        return Call(e.func, args, e.span)
    raise TypeError(e)


def replace_var(e: Expr, name: str, value: Expr) -> Expr:
    """Substitute `value` for the variable `name`."""
    if isinstance(e, Var):
        return value if e.name == name else e
    if isinstance(e, Num):
        return e
    if isinstance(e, Neg):
        return Neg(replace_var(e.operand, name, value), e.span)
    if isinstance(e, BinOp):
        return BinOp(e.op, replace_var(e.left, name, value), replace_var(e.right, name, value), e.span)
    if isinstance(e, Call):
        return Call(e.func, tuple(replace_var(a, name, value) for a in e.args), e.span)
    raise TypeError(e)


# ---------------------------------------------------------------------------- evaluation


def evaluate(e: Expr, env: dict[str, float] | None = None,
             funcs: dict[str, Callable[..., float]] | None = None) -> float:
    """Evaluate over floats by interpreting whitelisted nodes (never eval); `funcs` adds
    functions computed by the compiler itself (a tabulated kernel)."""
    env = env or {}
    if isinstance(e, Num):
        return e.value
    if isinstance(e, Var):
        if e.name in env:
            return float(env[e.name])
        if e.name in CONSTANTS:
            return CONSTANTS[e.name]
        raise KeyError(e.name)
    if isinstance(e, Neg):
        return -evaluate(e.operand, env, funcs)
    if isinstance(e, BinOp):
        return BINARY_OPS[e.op](evaluate(e.left, env, funcs), evaluate(e.right, env, funcs))
    if isinstance(e, Call):
        fn = funcs[e.func] if funcs and e.func in funcs else ELEMENTARY[e.func][1]
        return float(fn(*(evaluate(a, env, funcs) for a in e.args)))
    raise TypeError(e)


def fold(e: Expr, keep_names: bool = False) -> Expr:
    """Constant folding: every subtree free of variables becomes a number.

    With keep_names, named constants (pi, e) stay names: emitted code reads `math.pi`.
    """
    if isinstance(e, Num):
        return e
    if isinstance(e, Var):
        return Num(CONSTANTS[e.name], e.span) if e.name in CONSTANTS and not keep_names else e
    if isinstance(e, Neg):
        inner = fold(e.operand, keep_names)
        return Num(-inner.value, e.span) if isinstance(inner, Num) else Neg(inner, e.span)
    if isinstance(e, BinOp):
        left, right = fold(e.left, keep_names), fold(e.right, keep_names)
        if isinstance(left, Num) and isinstance(right, Num):
            return Num(BINARY_OPS[e.op](left.value, right.value), e.span)
        # x*1, x+0 and friends keep emitted code readable
        if e.op == "*" and isinstance(left, Num) and left.value == 1.0:
            return right
        if e.op in ("*", "/") and isinstance(right, Num) and right.value == 1.0:
            return left
        if e.op == "+" and isinstance(left, Num) and left.value == 0.0:
            return right
        if e.op in ("+", "-") and isinstance(right, Num) and right.value == 0.0:
            return left
        return BinOp(e.op, left, right, e.span)
    if isinstance(e, Call):
        args = tuple(fold(a, keep_names) for a in e.args)
        if e.func in ELEMENTARY and all(isinstance(a, Num) for a in args):
            return Num(float(ELEMENTARY[e.func][1](*(a.value for a in args))), e.span)
        return Call(e.func, args, e.span)
    raise TypeError(e)


# ---------------------------------------------------------------------------- printing


def format_number(v: float) -> str:
    """Shortest repr that round-trips, always with a decimal point or exponent (a float)."""
    if math.isinf(v) or math.isnan(v):
        raise ValueError(f"non-finite constant {v}")
    r = repr(float(v))
    return r


# Variables that hold tensors in emitted code; every other name is a Python number
# (a named constant such as BETA_MIN, or pi), whose functions come from `math`.
TENSOR_VARS = frozenset({"t", "i", "x"})


def is_scalar(e: Expr) -> bool:
    """True when `e` involves no tensor variable and no process function (a plain number)."""
    return not (free_vars(e) & TENSOR_VARS) and all(c.func in ELEMENTARY for c in call_nodes(e))


def _scalar_call(func: str, args: list[str]) -> str:
    if func in ("min", "max", "abs"):
        return f"{func}({', '.join(args)})"
    if func == "sigmoid":
        return f"1 / (1 + math.exp(-({args[0]})))"
    return f"math.{func}({args[0]})"


def _torch_call(func: str, args: list[str], arg_nodes: tuple[Expr, ...]) -> str:
    if func not in ELEMENTARY:  # a process quantity or another emitted function of t
        return f"{func}({', '.join(args)})"
    if all(is_scalar(a) for a in arg_nodes):
        return _scalar_call(func, args)
    if func == "min" or func == "max":
        a, b = arg_nodes
        if is_scalar(a):  # min(c, x) = clamp(x, max=c)
            tensor, bound = args[1], args[0]
        elif is_scalar(b):
            tensor, bound = args[0], args[1]
        else:
            return f"torch.{'minimum' if func == 'min' else 'maximum'}({args[0]}, {args[1]})"
        return f"torch.clamp({tensor}, {'max' if func == 'min' else 'min'}={bound})"
    if func == "abs":
        return f"torch.abs({args[0]})"
    return f"torch.{func}({args[0]})"


def to_torch(e: Expr) -> str:
    """Print an Expr as a torch expression over the tensors `t`, `i`, `x`.

    Subtrees of bare numbers are folded first (:func:`fold`); named constants stay
    names, and functions of them alone print through `math`.
    """
    return _print(fold(e, keep_names=True), torch_style=True)[0]


def to_text(e: Expr) -> str:
    """Human-readable (and re-parseable) form, used in the IR dump and in comments."""
    return _print(e, torch_style=False)[0]


def _print(e: Expr, torch_style: bool) -> tuple[str, int]:
    """Return (text, precedence of its outermost operator)."""
    if isinstance(e, Num):
        s = format_number(e.value)
        if not torch_style and s.endswith(".0"):
            s = s[:-2]
        # a negative literal binds like unary minus: -0.5 * x needs no parentheses, (-2.0) ** t does
        return s, (_PRECEDENCE["neg"] if e.value < 0 else 5)
    if isinstance(e, Var):
        return (f"math.{e.name}" if torch_style and e.name in CONSTANTS else e.name), 5
    if isinstance(e, Neg):
        inner, p = _print(e.operand, torch_style)
        return "-" + (inner if p >= _PRECEDENCE["neg"] else f"({inner})"), _PRECEDENCE["neg"]
    if isinstance(e, BinOp):
        prec = _PRECEDENCE[e.op]
        left, lp = _print(e.left, torch_style)
        right, rp = _print(e.right, torch_style)
        if e.op == "**" and isinstance(e.right, Num) and e.right.value.is_integer() and abs(e.right.value) < 1e6:
            right = str(int(e.right.value))  # t ** 2 reads better than t ** 2.0
        if e.op == "**":  # right-associative; parenthesise a compound base
            left = left if lp > prec else f"({left})"
            right = right if rp >= prec else f"({right})"
        else:
            left = left if lp >= prec else f"({left})"
            # a - (b - c), a / (b * c), and a + (b + c) too: keep the tree's own evaluation order
            right = right if rp > prec else f"({right})"
        return f"{left} {e.op} {right}", prec
    if isinstance(e, Call):
        args = [_print(a, torch_style)[0] for a in e.args]
        if torch_style:
            return _torch_call(e.func, args, e.args), 5
        return f"{e.func}({', '.join(args)})", 5
    raise TypeError(e)


def to_json(e: Expr) -> object:
    """A JSON form for the IR (spans dropped)."""
    if isinstance(e, Num):
        return e.value
    if isinstance(e, Var):
        return e.name
    if isinstance(e, Neg):
        return ["neg", to_json(e.operand)]
    if isinstance(e, BinOp):
        return [e.op, to_json(e.left), to_json(e.right)]
    if isinstance(e, Call):
        return ["call", e.func, *[to_json(a) for a in e.args]]
    raise TypeError(e)
