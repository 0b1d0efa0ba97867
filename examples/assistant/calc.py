"""A calculator for the `expression` slot ('12*14', '9+16'): an ast walk over numbers and
+ - * / (and parentheses, unary minus). No eval, no names, no calls, no powers; sizes bounded."""

from __future__ import annotations

import ast
import operator

MAX_CHARS = 100
MAX_MAGNITUDE = 1e15
_BINARY = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}
_UNARY = {ast.UAdd: operator.pos, ast.USub: operator.neg}
_WORDS = {"+": "plus", "-": "minus", "*": "times", "/": "divided by"}


class CalcError(ValueError):
    """An expression this calculator refuses, with a reply-ready reason."""


def evaluate(expression: str) -> int | float:
    if not isinstance(expression, str) or not expression.strip():
        raise CalcError("there is no expression to work out")
    if len(expression) > MAX_CHARS:
        raise CalcError(f"that expression is longer than {MAX_CHARS} characters")
    try:
        tree = ast.parse(expression.strip(), mode="eval")
    except SyntaxError:
        raise CalcError(f"I cannot read {expression!r} as arithmetic") from None
    value = _walk(tree.body)
    return int(value) if float(value).is_integer() else value


def _walk(node: ast.AST) -> int | float:
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        return _bounded(node.value)
    if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
        left, right = _walk(node.left), _walk(node.right)
        if isinstance(node.op, ast.Div) and right == 0:
            raise CalcError("dividing by zero has no answer")
        return _bounded(_BINARY[type(node.op)](left, right))
    if isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
        return _UNARY[type(node.op)](_walk(node.operand))
    raise CalcError("I only do numbers with plus, minus, times and divided by")


def _bounded(x: int | float) -> int | float:
    if abs(x) > MAX_MAGNITUDE:
        raise CalcError("that number is too large for me")
    return x


def spoken(expression: str) -> str:
    """'12*14' -> '12 times 14'."""
    out = expression
    for sym, word in _WORDS.items():
        out = out.replace(sym, f" {word} ")
    return " ".join(out.split())


def format_number(x: int | float) -> str:
    if isinstance(x, int):
        return str(x)
    return f"{x:.4f}".rstrip("0").rstrip(".")
