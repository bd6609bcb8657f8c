"""Syntax of the instrument expression language: tokens, parser, canonical text, JSON (see expr.py)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal

from chouyang.errors import ChouyangError


class ExprError(ChouyangError):
    """A refused expression (or one that cannot be evaluated on the values given)."""

    def __init__(self, reason: str, text: str = "", position: int | None = None):
        self.reason, self.text, self.position = reason, text, position  # position: 1-based character
        where = f"表达式“{text}”" + (f"第 {position} 个字符处" if position else "") + "：" if text else ""
        super().__init__(where + reason)


@dataclass(frozen=True)
class Lit:
    value: float | str


@dataclass(frozen=True)
class Ref:
    name: str


@dataclass(frozen=True)
class Dot:
    pass


@dataclass(frozen=True)
class Unary:
    op: str  # only "-": `not` is a function, as in XPath
    operand: Node


@dataclass(frozen=True)
class Binary:
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Node, ...]


Node = Lit | Ref | Dot | Unary | Binary | Call

FUNCTIONS = {"selected": 2, "count-selected": 1, "count": 1, "string-length": 1, "today": 0, "date": 1, "if": 3, "not": 1,
             "now": 0}
_REF_FIRST = ("selected", "count-selected", "count")  # they read a field's stored value, not an expression's
_LEVELS = (("or",), ("and",), ("=", "!="), ("<", "<=", ">", ">="), ("+", "-"), ("*", "div", "mod"))
_PREC = {op: level + 1 for level, ops in enumerate(_LEVELS) for op in ops}
_UNARY_PREC, _ATOM_PREC = len(_LEVELS) + 1, len(_LEVELS) + 2
_WORD_OPS = ("and", "or", "div", "mod")

_SPACE = " \t\r\n"
_NUMBER = re.compile(r"[0-9]+(?:\.[0-9]*)?|\.[0-9]+")
_EXPONENT = re.compile(r"[eE][+-]?[0-9]+")
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:-[A-Za-z_][A-Za-z0-9_]*)*")
_NAME = re.compile(r"[^\W\d][\w.\-]*")
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_SYMBOLS = ("!=", "<=", ">=", "=", "<", ">", "+", "-", "*", "(", ")", ",")
_FULLWIDTH = {"（": "(", "）": ")", "，": ",", "‘": "'", "’": "'", "“": '"', "”": '"', "＝": "=", "＜": "<", "＞": ">",
              "！": "!", "＋": "+", "－": "-", "＊": "*", "｛": "{", "｝": "}", "＄": "$", "。": "."}
_HINTS = {"!": "“!”只能用在“!=”里，“非”要写成 not(…)", "&": "“并且”要写成 and", "|": "“或者”要写成 or",
          "$": "字段引用要写成 ${字段名}", ":": "不支持带“:”的名字（如 jr:choice-name）", "/": "除法要写成 div",
          "%": "求余数要写成 mod"}


# ---------------------------------------------------------------- tokens


@dataclass(frozen=True)
class _Token:
    kind: str  # num, str, ref, dot, word, sym, end
    value: object
    pos: int  # 0-based index into the text
    src: str


def _tokens(text: str) -> list[_Token]:
    out, i = [], 0
    while True:
        while i < len(text) and text[i] in _SPACE:
            i += 1
        if i == len(text):
            return [*out, _Token("end", None, i, "")]
        token = _token_at(text, i)
        out.append(token)
        i += len(token.src)


def _token_at(text: str, i: int) -> _Token:
    c = text[i]
    if c in "'\"":
        return _string_token(text, i)
    if m := _NUMBER.match(text, i):
        return _number_token(text, i, m.group())
    if c == ".":
        return _Token("dot", None, i, ".")
    if text.startswith("${", i):
        return _ref_token(text, i)
    if m := _WORD.match(text, i):
        return _Token("word", m.group(), i, m.group())
    return _symbol_token(text, i)


def _number_token(text: str, i: int, digits: str) -> _Token:
    if m := _EXPONENT.match(text, i + len(digits)):
        raise ExprError(f"不支持科学计数法“{digits}{m.group()}”，请把数字完整写出", text, i + 1)
    value = float(digits)
    if math.isinf(value):
        raise ExprError(f"数字“{digits}”太大", text, i + 1)
    return _Token("num", value, i, digits)


def _string_token(text: str, i: int) -> _Token:
    end = text.find(text[i], i + 1)
    if end < 0:
        raise ExprError(f"字符串缺少结尾的引号 {text[i]}", text, i + 1)
    return _Token("str", text[i + 1:end], i, text[i:end + 1])


def _symbol_token(text: str, i: int) -> _Token:
    for symbol in _SYMBOLS:
        if text.startswith(symbol, i):
            return _Token("sym", symbol, i, symbol)
    c = text[i]
    if c in _FULLWIDTH:  # typed with a Chinese input method still on
        raise ExprError(f"“{c}”是中文（全角）符号，请改用英文半角的“{_FULLWIDTH[c]}”", text, i + 1)
    raise ExprError(_HINTS.get(c, f"无法识别的字符“{c}”"), text, i + 1)


def _ref_token(text: str, i: int) -> _Token:
    m = _NAME.match(text, i + 2)
    if not m:
        rest = text[i + 2:i + 3]
        raise ExprError("“${”后缺少字段名" if rest in ("", "}") else f"字段名不能以“{rest}”开头（应以字母或下划线开头）",
                        text, i + 1)
    end = m.end()
    if not text.startswith("}", end):
        raise ExprError(f"字段引用“${{{m.group()}”缺少结尾的“}}”", text, i + 1)
    return _Token("ref", m.group(), i, text[i:end + 1])


# ---------------------------------------------------------------- parser


def parse(text: str) -> Node:
    """The tree of one XLSForm expression; ExprError (Chinese, with the position) if refused."""
    if not text or not text.strip(_SPACE):
        raise ExprError("表达式为空", text, 1)
    return _Parser(text).top()


class _Parser:
    def __init__(self, text: str):
        self.text, self.tokens, self.at = text, _tokens(text), 0

    def fail(self, token: _Token, reason: str):
        raise ExprError(reason, self.text, token.pos + 1)

    def peek(self) -> _Token:
        return self.tokens[self.at]

    def take(self) -> _Token:
        self.at += 1
        return self.tokens[self.at - 1]

    def top(self) -> Node:
        node = self.binary(0)
        token = self.peek()
        if token.kind == "sym" and token.value == ")":
            self.fail(token, "多余的“)”（前面没有与之配对的“(”）")
        if token.kind != "end":
            self.misplaced_word(token)
            self.fail(token, f"“{token.src}”前面缺少运算符（如 and、or、=）")
        return node

    def misplaced_word(self, token: _Token) -> None:
        if token.kind == "word" and token.value.lower() in _WORD_OPS:
            self.fail(token, f"运算符要用小写：{token.value.lower()}")

    def operator(self) -> str | None:
        token = self.peek()
        if token.kind == "sym" or (token.kind == "word" and token.value in _WORD_OPS):
            return token.value
        return None

    def binary(self, level: int) -> Node:
        if level == len(_LEVELS):
            return self.unary()
        left = self.binary(level + 1)
        while self.operator() in _LEVELS[level]:
            op = self.take().value
            left = Binary(op, left, self.binary(level + 1))
        return left

    def unary(self) -> Node:
        token = self.peek()
        if token.kind == "sym" and token.value == "-":
            self.take()
            return Unary("-", self.unary())
        return self.primary()

    def primary(self) -> Node:
        token = self.take()
        if token.kind in ("num", "str"):
            return Lit(token.value)
        if token.kind == "ref":
            return Ref(token.value)
        if token.kind == "dot":
            return Dot()
        if token.kind == "sym" and token.value == "(":
            node = self.binary(0)
            self.expect_close(token)
            return node
        if token.kind == "word":
            return self.word(token)
        self.missing_operand(token)

    def missing_operand(self, token: _Token):
        before = self.tokens[self.at - 2].src if self.at >= 2 else ""
        if token.kind == "end":
            self.fail(token, f"表达式不完整：“{before}”后面缺少内容" if before else "表达式不完整")
        self.fail(token, f"“{token.src}”前面缺少值（数字、'文字'、${{字段}}或函数）")

    def expect_close(self, opening: _Token) -> None:
        token = self.take()
        if token.kind == "sym" and token.value == ")":
            return
        if token.kind == "end":
            self.fail(opening, "缺少与这个“(”配对的“)”")
        self.misplaced_word(token)
        self.fail(token, f"此处应为“)”或运算符，却是“{token.src}”")

    def word(self, token: _Token) -> Node:
        name, after = token.value, self.peek()
        if after.kind == "sym" and after.value == "(":
            return self.call(token)
        if name in _WORD_OPS:
            self.fail(token, f"“{name}”前面缺少值")
        if name.lower() in (*_WORD_OPS, "not"):
            self.fail(token, f"运算符要用小写：{name.lower()}")
        self.fail(token, f"无法识别“{name}”：引用字段要写成 ${{{name}}}，文字要加引号 '{name}'")

    def call(self, token: _Token) -> Call:
        name = token.value
        if name == "regex":
            self.fail(token, "不支持 regex()：请改用选择题、数值范围或 string-length() 约束")
        if name not in FUNCTIONS and name.lower() in FUNCTIONS:
            self.fail(token, f"函数名要用小写：{name.lower()}()")
        if name not in FUNCTIONS:
            self.fail(token, f"不支持的函数“{name}()”；可用的函数：" + "、".join(f"{f}()" for f in FUNCTIONS))
        opening, args = self.take(), []
        if not (self.peek().kind == "sym" and self.peek().value == ")"):
            args.append(self.binary(0))
            while self.peek().kind == "sym" and self.peek().value == ",":
                self.take()
                args.append(self.binary(0))
        self.expect_close(opening)
        return self.checked_call(token, name, tuple(args))

    def checked_call(self, token: _Token, name: str, args: tuple[Node, ...]) -> Call:
        if len(args) != FUNCTIONS[name]:
            self.fail(token, f"函数 {name}() 要 {FUNCTIONS[name]} 个参数，这里有 {len(args)} 个")
        if name in _REF_FIRST and not isinstance(args[0], Ref | Dot):
            self.fail(token, f"{name}() 的第一个参数要是字段引用 ${{字段}} 或“.”")
        if name == "date" and isinstance(args[0], Lit) and not is_date(str(args[0].value)):
            self.fail(token, f"date() 里的“{to_text(args[0])}”不是有效日期（应为 YYYY-MM-DD，如 '2016-01-01'）")
        return Call(name, args)


# ---------------------------------------------------------------- reading trees


def _children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, Unary):
        return (node.operand,)
    if isinstance(node, Binary):
        return (node.left, node.right)
    if isinstance(node, Call):
        return node.args
    return ()


def references(node: Node) -> set[str]:
    """Every field name the tree refers to as ${name}."""
    own = {node.name} if isinstance(node, Ref) else set()
    return own.union(*(references(child) for child in _children(node)))


def uses_dot(node: Node) -> bool:
    return isinstance(node, Dot) or any(uses_dot(child) for child in _children(node))


def to_text(node: Node) -> str:
    """Canonical XLSForm text: single spaces around operators, only the parentheses needed."""
    return _text(node)[0]


def _text(node: Node) -> tuple[str, int]:
    if isinstance(node, Lit):
        return _literal_text(node.value), _ATOM_PREC
    if isinstance(node, Ref):
        return "${" + node.name + "}", _ATOM_PREC
    if isinstance(node, Dot):
        return ".", _ATOM_PREC
    if isinstance(node, Unary):
        return "-" + _wrapped(node.operand, _UNARY_PREC), _UNARY_PREC
    if isinstance(node, Binary):
        prec = _PREC[node.op]  # left-associative: an equal-precedence right operand needs parentheses
        return f"{_wrapped(node.left, prec)} {node.op} {_wrapped(node.right, prec + 1)}", prec
    return f"{node.name}({', '.join(to_text(arg) for arg in node.args)})", _ATOM_PREC


def _wrapped(node: Node, at_least: int) -> str:
    text, prec = _text(node)
    return text if prec >= at_least else f"({text})"


def _literal_text(value: float | str) -> str:
    if isinstance(value, str):
        if "'" not in value:
            return f"'{value}'"
        if '"' not in value:
            return f'"{value}"'
        raise ValueError(f"a string literal cannot hold both quote marks: {value!r}")
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise ValueError(f"not a literal the language can write: {value!r}")  # negative numbers are Unary("-", …)
    return format_number(float(value))


def to_json(node: Node) -> list:
    """The tree as JSON for expr.js: ["lit", v] ["ref", name] ["dot"] ["neg", x] [op, l, r] ["call", name, *args]."""
    if isinstance(node, Lit):
        return ["lit", float(node.value) if not isinstance(node.value, str) else node.value]
    if isinstance(node, Ref):
        return ["ref", node.name]
    if isinstance(node, Dot):
        return ["dot"]
    if isinstance(node, Unary):
        return ["neg", to_json(node.operand)]
    if isinstance(node, Binary):
        return [node.op, to_json(node.left), to_json(node.right)]
    return ["call", node.name, *(to_json(arg) for arg in node.args)]


def format_number(x: float) -> str:
    """string() of a number: the shortest round-trip digits, positional, no trailing '.0'."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "0"
    text = format(Decimal(repr(x)), "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def is_date(text: str) -> bool:
    m = _DATE.fullmatch(text)
    if not m:
        return False
    year, month, day = (int(g) for g in m.groups())
    if year < 1 or not 1 <= month <= 12:
        return False
    leap = year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return 1 <= day <= (31, 29 if leap else 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)[month - 1]
