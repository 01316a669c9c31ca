"""Parse spec math expressions (`"0.1 + 19.9*t"`, `"sigma(t)**2"`) into the Expr AST.

The text is lexed and parsed by the LALR grammar in `expr.lark`; nothing is ever
evaluated. Parsing happens in three steps, each raising a located :class:`SpecError`:

1. a scan of the token stream names forbidden constructs (attribute access, indexing,
   strings, `^`, lambda, keyword arguments, comparisons, calls of functions that are
   not whitelisted) so the user learns *what* is not allowed, not just "syntax error";
2. the LALR parse, whose errors become "invalid expression: unexpected ...";
3. a conversion of the tree into Expr nodes that checks names and arities.

Lark is imported on first use, which keeps `import scorec` cheap for `scorec check`.
"""

from __future__ import annotations

import keyword
import math
from dataclasses import replace
from functools import lru_cache
from typing import Any, Collection

from .diagnostics import Span, SpecError, did_you_mean
from .expr import CONSTANTS, ELEMENTARY, PROCESS_FUNCS, BinOp, Call, Expr, Neg, Num, Var

_BINARY = {"add": "+", "sub": "-", "mul": "*", "div": "/", "pow": "**"}
_OPERAND_END = {"NUMBER", "NAME", "RPAR"}
_OPERAND_START = {"NUMBER", "NAME", "LPAR"}
OPERATORS_HINT = "supported operators: + - * / ** and parentheses"


@lru_cache(maxsize=1)
def expr_grammar() -> Any:
    """The Lark LALR parser, built once per process."""
    from importlib import resources

    from lark import Lark

    grammar = resources.files(__package__).joinpath("expr.lark").read_text(encoding="utf-8")
    return Lark(grammar, parser="lalr", lexer="basic", propagate_positions=True)


def parse_expr(
    text: str,
    span: Span | None = None,
    *,
    variables: Collection[str] = ("t",),
    functions: Collection[str] | None = None,
) -> Expr:
    """Parse `text` into an Expr; `span` locates its first character in the spec.

    `variables` are the free names allowed (constants such as `pi` always are);
    `functions` defaults to the elementary functions plus the process quantities.
    A function not in ELEMENTARY takes one argument.
    """
    allowed = set(functions) if functions is not None else set(ELEMENTARY) | set(PROCESS_FUNCS)
    ctx = ExprText(text, span or Span("<expr>", 1, 1), set(variables), allowed)
    if not text.strip():
        raise SpecError("empty expression", ctx.base, "write a formula, e.g. 0.1 + 19.9*t", "E0401")
    tokens = ctx.scan()
    tree = ctx.parse(tokens)
    try:
        expr = ctx.convert(tree)
    except RecursionError:
        expr = None
    # later stages (folding, printing) recurse over the tree: keep it shallow
    if expr is None or _depth(expr) > MAX_DEPTH:
        raise SpecError(
            f"expression is nested too deeply (more than {MAX_DEPTH} levels)",
            ctx.base,
            "split it up or simplify it; spec formulas are short",
            "E0401",
        )
    return expr


MAX_DEPTH = 100


def _depth(e: Expr) -> int:
    """Depth of the tree, computed without recursion."""
    deepest, stack = 0, [(e, 1)]
    while stack:
        node, d = stack.pop()
        deepest = max(deepest, d)
        children = getattr(node, "args", None) or tuple(
            c for c in (getattr(node, "operand", None), getattr(node, "left", None), getattr(node, "right", None)) if c
        )
        stack.extend((c, d + 1) for c in children)
    return deepest


class ExprText:
    """One parse: the text, where it sits in the spec, and what names it may use."""

    def __init__(self, text: str, base: Span, variables: set[str], functions: set[str]):
        self.text = text
        self.base = base
        self.variables = variables
        self.functions = functions

    # -- locations

    def span(self, start: int, end: int | None = None) -> Span:
        """Span of text[start:end], placed in the spec via the base span."""
        if "\n" in self.text[:start]:
            return self.base  # inside a multi-line string columns are unknown
        length = max(1, (end if end is not None else start + 1) - start)
        return self.base.shifted(start, length)

    def token_span(self, token: Any) -> Span:
        return self.span(token.start_pos, token.end_pos)

    # -- step 1: tokens

    def scan(self) -> list[Any]:
        """Lex the text and reject forbidden constructs, leftmost first."""
        from lark.exceptions import UnexpectedCharacters

        tokens: list[Any] = []
        call_parens: list[bool] = []  # for each open '(': is it a call's?
        try:
            for token in expr_grammar().lex(self.text):
                self._check_token(token, tokens, call_parens)
                tokens.append(token)
        except UnexpectedCharacters as exc:
            char = self.text[exc.pos_in_stream]
            raise SpecError(
                f"invalid expression: unexpected character '{char}'",
                self.span(exc.pos_in_stream),
                OPERATORS_HINT,
                "E0401",
            ) from None
        return tokens

    def _check_token(self, token: Any, before: list[Any], call_parens: list[bool]) -> None:
        prev = before[-1] if before else None
        kind = token.type
        if token == "(":
            call_parens.append(prev is not None and prev.type == "NAME")
        elif token == ")" and call_parens:
            call_parens.pop()
        if prev is not None and prev.type == "NAME" and token == "(":
            self._check_function(prev)
        if kind == "NAME" and keyword.iskeyword(token):
            raise self._keyword_error(token)
        problem = _FORBIDDEN.get(kind)
        if problem is None:
            return
        message, hint, code = problem
        span = self.token_span(token)
        if kind == "DOT":
            span = self._attribute_span(token)
        elif kind == "LSQB" and not (prev is not None and prev.type in _OPERAND_END | {"RSQB"}):
            message, hint = "lists are not allowed in expressions", None
        elif kind == "EQUAL" and call_parens and call_parens[-1] and prev is not None \
                and prev.type == "NAME":
            message = "keyword arguments are not allowed in expressions"
            hint, code = "pass arguments by position, e.g. min(t, 0.5)", "E0403"
            span = self.span(prev.start_pos, token.end_pos)
        elif kind == "BADOP":
            message = f"operator '{token}' is not supported in expressions"
        raise SpecError(message, span, hint, code)

    def _attribute_span(self, dot: Any) -> Span:
        """`.name` as one span, so the caret covers the attribute."""
        end = dot.end_pos
        while end < len(self.text) and (self.text[end].isalnum() or self.text[end] == "_"):
            end += 1
        return self.span(dot.start_pos, end)

    def _keyword_error(self, token: Any) -> SpecError:
        word = str(token)
        span = self.token_span(token)
        if word == "lambda":
            return SpecError("lambda is not allowed in expressions", span,
                             "write the formula itself, in terms of t", "E0403")
        if word in ("and", "or", "not", "is", "in"):
            return SpecError("boolean operators are not allowed in expressions", span,
                             OPERATORS_HINT, "E0403")
        if word in ("if", "else"):
            return SpecError("conditional expressions are not allowed in expressions", span,
                             "use min(a, b) or max(a, b)", "E0403")
        return SpecError(f"'{word}' is a Python keyword, not allowed in expressions", span,
                         "expressions hold numbers, names, + - * / ** and function calls", "E0403")

    def _check_function(self, name_token: Any) -> None:
        name = str(name_token)
        if name in self.functions:
            return
        hint = did_you_mean(name, self.functions) or (
            "allowed functions: " + ", ".join(sorted(self.functions))
            if self.functions else "no functions are allowed here")
        raise SpecError(f"function '{name}' is not allowed in expressions",
                        self.token_span(name_token), hint, "E0402")

    # -- step 2: parsing

    def parse(self, tokens: list[Any]) -> Any:
        """LALR parse; a syntax error names the unexpected token where it stands."""
        from lark.exceptions import UnexpectedInput

        try:
            return expr_grammar().parse(self.text)
        except UnexpectedInput as exc:
            raise self._syntax_error(exc, tokens) from None

    def _syntax_error(self, exc: Any, tokens: list[Any]) -> SpecError:
        token = getattr(exc, "token", None)
        if token is None or token.type == "$END":
            end = len(self.text.rstrip())
            unclosed = self.text.count("(") > self.text.count(")")
            return SpecError(
                "invalid expression: unexpected end of expression",
                self.span(end),
                "a '(' is not closed" if unclosed else "the expression is incomplete",
                "E0401",
            )
        prev = next((t for t in reversed(tokens) if t.start_pos < token.start_pos), None)
        if prev is not None and prev.type in _OPERAND_END and token.type in _OPERAND_START:
            hint = "insert '*' to multiply, e.g. 2*t"
        elif token == ")":
            hint = "this ')' has no matching '(' or follows an operator"
        else:
            hint = OPERATORS_HINT
        return SpecError(f"invalid expression: unexpected {_describe(token)}",
                         self.token_span(token), hint, "E0401")

    # -- step 3: Expr nodes

    def convert(self, tree: Any) -> Expr:
        """Post-order walk of the parse tree (iterative: long sums stay shallow here)."""
        from lark import Tree

        values: list[Any] = []
        stack: list[tuple[Any, bool]] = [(tree, False)]
        while stack:
            node, children_done = stack.pop()
            subtrees = [c for c in node.children if isinstance(c, Tree)]
            if not children_done:
                stack.append((node, True))
                stack.extend((c, False) for c in reversed(subtrees))
                continue
            args = values[len(values) - len(subtrees):]
            del values[len(values) - len(subtrees):]
            values.append(self._node(node, args))
        return values[0]

    def _node(self, node: Any, args: list[Any]) -> Any:
        """One Expr node (or an argument tuple) from a tree node and its converted children."""
        kind = node.data
        span = self.span(node.meta.start_pos, node.meta.end_pos)
        if kind == "number":
            return self._number(node.children[0], span)
        if kind == "name":
            return self._name(node.children[0], span)
        if kind == "neg":
            return Neg(args[0], span)
        if kind == "pos":
            return replace(args[0], span=span)
        if kind in _BINARY:
            return BinOp(_BINARY[kind], args[0], args[1], span)
        if kind == "args":
            return tuple(args)
        if kind == "call":
            return self._call(node.children[0], args[0] if args else (), span)
        if kind == "forbidden":  # the scan rejects these first; kept as a safety net
            raise SpecError("invalid expression", span, code="E0403")
        raise SpecError(f"invalid expression: unexpected '{kind}'", span, code="E0401")

    def _number(self, token: Any, span: Span) -> Num:
        value = float(token)
        if not math.isfinite(value):
            raise SpecError(f"number '{token}' is too large", span, code="E0404")
        return Num(value, span)

    def _name(self, token: Any, span: Span) -> Var:
        name = str(token)
        if name in self.variables or name in CONSTANTS:
            return Var(name, span)
        if name in self.functions:
            raise SpecError(f"'{name}' is a function; call it with an argument", span,
                            f"e.g. {name}(t)", "E0402")
        known = sorted(self.variables) + sorted(CONSTANTS)
        hint = did_you_mean(name, [*known, *self.functions]) or (
            "names allowed here: " + ", ".join(known))
        raise SpecError(f"unknown name '{name}' in expression", span, hint, "E0402")

    def _call(self, name_token: Any, args: tuple, span: Span) -> Call:
        self._check_function(name_token)
        name = str(name_token)
        arity = ELEMENTARY[name][0] if name in ELEMENTARY else 1
        if len(args) != arity:
            plural = "argument" if arity == 1 else "arguments"
            raise SpecError(f"'{name}' takes {arity} {plural}, got {len(args)}", span,
                            f"e.g. {name}({', '.join(['t'] * arity)})", "E0402")
        return Call(name, tuple(args), span)


# token type -> (message, hint, code) for constructs that are never allowed: Python's (E0403)
# and operators that formulas do not have (E0401)
_FORBIDDEN: dict[str, tuple[str, str | None, str]] = {
    "DOT": ("attribute access is not allowed in expressions",
            "expressions hold numbers, names, + - * / ** and function calls", "E0403"),
    "LSQB": ("indexing is not allowed in expressions", None, "E0403"),
    "RSQB": ("invalid expression: unexpected ']'", None, "E0401"),
    "STRING": ("string literals are not allowed in expressions",
               "write the formula without quotes inside it", "E0403"),
    "CARET": ("'^' is not a power operator", "use ** for powers, e.g. t**2", "E0401"),
    "COMPARE": ("comparisons are not allowed in expressions", "use min(a, b) or max(a, b)", "E0403"),
    "EQUAL": ("'=' is not allowed in expressions", "an expression is a formula, e.g. 0.1 + 19.9*t", "E0401"),
    "BITOP": ("boolean and bitwise operators are not allowed in expressions", OPERATORS_HINT, "E0403"),
    "BADOP": ("operator not supported in expressions", OPERATORS_HINT, "E0401"),
}


def _describe(token: Any) -> str:
    if token.type == "NUMBER":
        return f"number '{token}'"
    if token.type == "NAME":
        return f"name '{token}'"
    return f"'{token}'"
