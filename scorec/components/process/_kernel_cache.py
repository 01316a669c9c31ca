"""The `sde` process's derived kernel in the derivation cache (_derivation_cache.py).

An entry holds the quadrature tables (float64 values as JSON numbers, which round-trip
exactly) and the closed form, if any, as Expr JSON (expr.to_json). Decoding accepts only
what the derivation itself produces: the three tables at the expected grid, and Exprs over
t, pi, e and the elementary functions; anything else is a corrupt entry, derived anew.

Whether a kernel has a closed form is decided by the expressions alone (_symbolic.integrate,
no clock), so an entry only saves the work: a miss derives the same kernel again.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Callable

from ...core import expr as E
from . import _derivation_cache as cache
from ._gaussian import KernelTable

TABLE_NAMES = ("log_alpha", "variance", "mean_shift")
_HERE = Path(__file__).resolve().parent
# The code a derived kernel depends on: an edit of any of it invalidates the entries.
SOURCES = tuple(str(p) for p in (_HERE / "sde.py", _HERE / "_sde_kernel.py", _HERE / "_kernel_cache.py",
                                 _HERE / "_gaussian.py", _HERE / "_polynomial_kernel.py", _HERE / "_symbolic.py",
                                 _HERE.parent.parent / "core" / "expr.py"))

Closed = tuple[E.Expr, E.Expr, E.Expr | None]


class _Corrupt(Exception):
    pass


def cached_kernel(inputs: dict, derive: Callable[[], tuple[tuple[KernelTable, ...], Closed | None]],
                  accept: Callable[[tuple[KernelTable, ...], Closed | None], bool]):
    """derive()'s (tables, closed), or the cached copy for the same inputs when `accept` takes it."""
    name = cache.key(inputs, SOURCES)
    try:
        tables, closed = decode(cache.get(name), inputs["grid"])
        if accept(tables, closed):
            return tables, closed
    except _Corrupt:
        pass
    tables, closed = derive()
    cache.put(name, encode(tables, closed))
    return tables, closed


def encode(tables: tuple[KernelTable, ...], closed: Closed | None) -> dict:
    return {"tables": [[tb.name, tb.doc, list(tb.values), list(tb.slopes)] for tb in tables],
            "closed": None if closed is None else [None if e is None else E.to_json(e) for e in closed]}


def decode(value: Any, grid: int) -> tuple[tuple[KernelTable, ...], Closed | None]:
    """The entry's (tables, closed); _Corrupt for anything the derivation would not have written."""
    try:
        tables = tuple(_table(item, grid) for item in value["tables"])
        if tuple(tb.name for tb in tables) != TABLE_NAMES:
            raise _Corrupt()
        closed = value["closed"]
        if closed is not None:
            if len(closed) != 3 or closed[0] is None or closed[1] is None:
                raise _Corrupt()
            closed = tuple(None if e is None else expr_from_json(e) for e in closed)
        return tables, closed
    except (KeyError, TypeError, ValueError, IndexError):
        raise _Corrupt() from None


def _table(item: Any, grid: int) -> KernelTable:
    name, doc, values, slopes = item
    numbers = [*values, *slopes]
    if len(values) != grid + 1 or len(slopes) != grid + 1 or not all(type(v) is float for v in numbers):
        raise _Corrupt()
    return KernelTable(str(name), str(doc), tuple(values), tuple(slopes))


def expr_from_json(j: Any) -> E.Expr:
    """The inverse of expr.to_json, for the nodes a derived kernel may hold."""
    if type(j) is float:
        return E.Num(j)
    if isinstance(j, str) and (j == "t" or j in E.CONSTANTS):
        return E.Var(j)
    if isinstance(j, list) and len(j) == 2 and j[0] == "neg":
        return E.Neg(expr_from_json(j[1]))
    if isinstance(j, list) and len(j) == 3 and j[0] in E.BINARY_OPS:
        return E.BinOp(j[0], expr_from_json(j[1]), expr_from_json(j[2]))
    if isinstance(j, list) and len(j) >= 3 and j[0] == "call" and j[1] in E.ELEMENTARY:
        if len(j) - 2 != E.ELEMENTARY[j[1]][0]:
            raise _Corrupt()
        return E.Call(j[1], tuple(expr_from_json(a) for a in j[2:]))
    raise _Corrupt()
