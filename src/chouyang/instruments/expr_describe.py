"""Instrument expressions read aloud in Chinese, for the skip instructions of printed forms (see expr.py)."""

from __future__ import annotations

from collections.abc import Mapping

from chouyang.instruments.expr_syntax import _PREC, Binary, Call, Dot, Lit, Node, Ref, Unary, format_number, is_date

_SAY = {"=": "为", "!=": "不为", "<": "小于", "<=": "小于或等于", ">": "大于", ">=": "大于或等于"}
_SAY_NOT = {"=": "不为", "!=": "为", "<": "不小于", "<=": "大于", ">": "不大于", ">=": "小于"}
_ARITHMETIC = {"+": "+", "-": "-", "*": "×", "div": "÷"}
_JOIN = {"and": "且", "or": "或"}
_ATOM = max(_PREC.values()) + 2


def describe(node: Node, labels: Mapping[str, str]) -> str:
    """The condition in words: `${result} = '错报'` with {'result': '核实结果'} → 核实结果为“错报”.

    Fields are named by their label (their name when `labels` lacks it), the field's own value
    is 本项, and codes are quoted as written.
    """
    return _Describer(labels).say(node)[0]


class _Describer:
    def __init__(self, labels: Mapping[str, str]):
        self.labels = labels

    def say(self, node: Node) -> tuple[str, int]:
        """Words and the precedence they bind with, so that an or inside an and gets （）."""
        if isinstance(node, Lit):
            return (f"“{node.value}”" if isinstance(node.value, str) else format_number(float(node.value))), _ATOM
        if isinstance(node, Ref):
            return self.labels.get(node.name) or node.name, _ATOM
        if isinstance(node, Dot):
            return "本项", _ATOM
        if isinstance(node, Unary):
            return "-" + self.wrapped(node.operand, _ATOM - 1), _ATOM - 1
        if isinstance(node, Binary):
            return self.binary(node)
        return self.call(node), _ATOM

    def wrapped(self, node: Node, at_least: int) -> str:
        words, prec = self.say(node)
        return words if prec >= at_least else f"（{words}）"

    def binary(self, node: Binary, negated: bool = False) -> tuple[str, int]:
        prec = _PREC[node.op]
        left, right = self.wrapped(node.left, prec), self.wrapped(node.right, prec + 1)
        if node.op in _JOIN:
            return left + _JOIN[node.op] + right, prec
        if node.op in _SAY:
            return self.comparison(node, left, right, negated), prec
        if node.op == "mod":
            return f"{left}除以{right}的余数", prec
        return f"{left}{_ARITHMETIC[node.op]}{right}", prec

    def comparison(self, node: Binary, left: str, right: str, negated: bool) -> str:
        if node.op in ("=", "!=") and node.right == Lit(""):
            return left + ("未填写" if (node.op == "=") != negated else "已填写")
        return left + (_SAY_NOT if negated else _SAY)[node.op] + right

    def call(self, node: Call) -> str:
        args = node.args
        if node.name == "selected":
            return f"{self.say(args[0])[0]}选了{self.say(args[1])[0]}"
        if node.name == "not":
            return self.negation(args[0])
        if node.name == "if":
            condition, yes, no = (self.say(arg)[0] for arg in args)
            return f"（{condition}时为{yes}，否则为{no}）"
        if node.name == "date" and isinstance(args[0], Lit) and is_date(str(args[0].value)):
            year, month, day = (int(part) for part in str(args[0].value).split("-"))
            return f"{year}年{month}月{day}日"
        subject = self.wrapped(args[0], _ATOM) if args else ""
        return {"count-selected": f"{subject}所选的项数", "count": f"{subject}的个数", "string-length": f"{subject}的字数",
                "today": "今天", "now": "今天", "date": f"日期{subject}"}[node.name]

    def negation(self, inner: Node) -> str:
        if isinstance(inner, Binary) and inner.op in _SAY:
            return self.binary(inner, negated=True)[0]
        if isinstance(inner, Call) and inner.name == "selected":
            return f"{self.say(inner.args[0])[0]}没有选{self.say(inner.args[1])[0]}"
        if isinstance(inner, Call) and inner.name == "not":
            return self.say(inner.args[0])[0]
        return "不" + self.wrapped(inner, _ATOM)
