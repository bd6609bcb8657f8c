"""Evaluation of instrument expressions in Python; static/expr.js is its twin (semantics: expr.py)."""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from chouyang.instruments.expr_syntax import Binary, Dot, ExprError, Lit, Node, Ref, Unary, format_number, is_date, to_text

_NUMERIC = re.compile(r"[ \t\r\n]*(-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))[ \t\r\n]*")  # XPath Number between XML spaces


def to_number(value: object) -> float:
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, float):
        return value
    m = _NUMERIC.fullmatch(value) if isinstance(value, str) else None
    return float(m.group(1)) if m else math.nan


def to_string(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format_number(value)
    return value if isinstance(value, str) else ""


def truthy(value: object) -> bool:
    """XPath boolean(): '' and 0 and NaN (and false, None, an empty list) are false."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return not (value == 0 or math.isnan(value))
    if isinstance(value, str | list | tuple):
        return len(value) > 0
    return value is not None


def _is_numeric(value: object) -> bool:
    return isinstance(value, float) or (isinstance(value, str) and _NUMERIC.fullmatch(value) is not None)


def _normalized(value: object) -> object:
    """A form's value as the evaluator sees it: str, float, bool or list."""
    if value is None:
        return ""
    if isinstance(value, bool | str):
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, list | tuple):
        return list(value)
    if isinstance(value, date):
        return value.isoformat()[:10]
    return str(value)


# ---------------------------------------------------------------- evaluation

_ORDER = {"=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


@dataclass(frozen=True)
class _Context:
    values: Mapping[str, object]
    dot: object
    today: str | None


def evaluate(node: Node, values: Mapping[str, object], dot: object = None, today: date | None = None) -> object:
    """The value of the tree (str, float or bool) for one response; `today` is what today() gives."""
    iso = f"{today.year:04d}-{today.month:02d}-{today.day:02d}" if today is not None else None
    return _eval(node, _Context(values, _normalized(dot), iso))


def _eval(node: Node, ctx: _Context) -> object:
    if isinstance(node, Lit):
        return node.value if isinstance(node.value, str) else float(node.value)
    if isinstance(node, Ref | Dot):
        return _scalar(node, _stored(node, ctx))
    if isinstance(node, Unary):
        return -to_number(_eval(node.operand, ctx))
    if isinstance(node, Binary):
        return _binary(node, ctx)
    return _CALLS[node.name](node.args, ctx)


def _stored(node: Node, ctx: _Context) -> object:
    if isinstance(node, Ref):
        return _normalized(ctx.values.get(node.name))
    if isinstance(node, Dot):
        return ctx.dot
    return _eval(node, ctx)


def _scalar(node: Node, value: object) -> object:
    if isinstance(value, list):
        raise ExprError(f"{to_text(node)} 是重复组（多行），只能用在 count() 里")
    return value


def _binary(node: Binary, ctx: _Context) -> object:
    if node.op == "and":
        return truthy(_eval(node.left, ctx)) and truthy(_eval(node.right, ctx))
    if node.op == "or":
        return truthy(_eval(node.left, ctx)) or truthy(_eval(node.right, ctx))
    left, right = _eval(node.left, ctx), _eval(node.right, ctx)
    if node.op in _ORDER:
        return _compare(node.op, left, right)
    return _arithmetic(node.op, to_number(left), to_number(right))


def _compare(op: str, a: object, b: object) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        if op in ("=", "!="):
            return (truthy(a) == truthy(b)) == (op == "=")
        return _ORDER[op](to_number(a), to_number(b))
    if _is_numeric(a) and _is_numeric(b):
        return _ORDER[op](to_number(a), to_number(b))
    left, right = to_string(a), to_string(b)
    if op not in ("=", "!=") and (left == "" or right == ""):
        return False  # an unanswered field is neither before nor after anything
    return _ORDER[op](left, right)


def _arithmetic(op: str, x: float, y: float) -> float:
    if op == "+":
        return x + y
    if op == "-":
        return x - y
    if op == "*":
        return x * y
    if y == 0 or math.isnan(x) or math.isnan(y) or (op == "mod" and math.isinf(x)):
        return math.nan  # math.fmod raises where JS % gives NaN
    return x / y if op == "div" else math.fmod(x, y)


def _codes(node: Node, ctx: _Context) -> list[str]:
    return [code for code in to_string(_scalar(node, _stored(node, ctx))).split(" ") if code]


def _count(node: Node, ctx: _Context) -> float:
    value = _stored(node, ctx)
    if isinstance(value, list):
        return float(sum(1 for item in value if item is not None and not (isinstance(item, str) and item == "")))
    return 1.0 if to_string(value) != "" else 0.0


def _today(ctx: _Context) -> str:
    if ctx.today is None:
        raise ExprError("today() 需要给定“今天”的日期才能求值")
    return ctx.today


def _date(text: str) -> str:
    return text if is_date(text) else ""


_CALLS = {
    "not": lambda args, ctx: not truthy(_eval(args[0], ctx)),
    "if": lambda args, ctx: _eval(args[1] if truthy(_eval(args[0], ctx)) else args[2], ctx),
    "selected": lambda args, ctx: (lambda codes: to_string(_eval(args[1], ctx)) in codes)(_codes(args[0], ctx)),
    "count-selected": lambda args, ctx: float(len(_codes(args[0], ctx))),
    "count": lambda args, ctx: _count(args[0], ctx),
    "string-length": lambda args, ctx: float(len(to_string(_eval(args[0], ctx)))),
    "today": lambda args, ctx: _today(ctx),
    "now": lambda args, ctx: _today(ctx),   # to the day: chouyang keeps dates, never times
    "date": lambda args, ctx: _date(to_string(_eval(args[0], ctx))),
}
