"""Reading a scheme's TOML tables: typed values, ids and arrays of tables, every problem recorded with its place.

Each reader returns a default after recording a problem, so one pass lists every problem of
a file at once.  `SchemeReader` is shared by the checklist tree (`scheme_tree.py`) and the
composite, adjustments, flags and consequences (`scheme_parse.py`).
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

from chouyang.assessment.scheme_model import RULE_KEYS
from chouyang.errors import Problem

# the keys each kind of table may have (unknown ones are refused)
SCHEME_KEYS = {"name", "section", "period", "note"}
COMPOSITE_KEYS = {"points", "tiebreak", "quote", "note", "borrowed_from"}
COMMON = {"quote", "note", "borrowed_from"}
ITEM_KEYS = RULE_KEYS | COMMON | {"id", "parent", "title", "fact", "evidence", "reference_required",
                                    "incomplete", "half", "full"}
VARIANT_KEYS = RULE_KEYS | {"quote", "fact", "evidence", "note", "default_full", "borrowed_from"}
COMPONENT_KEYS = (RULE_KEYS - {"points"}) | COMMON | {"id", "parent", "title", "points", "weight", "source",
                                                       "item", "column", "cap", "percent"}
GROUP_KEYS = COMMON | {"id", "title", "sign", "cap", "item"}
ADJ_KEYS = COMMON | {"id", "title", "rule", "points", "min", "max", "factor", "column", "requires", "evidence"}
FLAG_KEYS = COMMON | {"id", "title", "consequence"}
CONSEQUENCE_KEYS = COMMON | {"id", "kind", "label", "n", "component", "skip", "previous", "current", "becomes",
                               "ranks_last"}


def decimal(value: float | int) -> Decimal:
    """A TOML number as an exact decimal (a float by its shortest repr, so 0.1 is 0.1)."""
    return Decimal(value) if isinstance(value, int) else Decimal(repr(value))


def known(value: Any, names) -> bool:
    """`value in names` for a name read from the file; an array or a table (unhashable) names nothing."""
    return isinstance(value, str) and value in names


class SchemeReader:
    """The problems of one scheme file, and the typed readers that record them."""

    def __init__(self, source: str):
        self.source = source
        self.problems: list[Problem] = []

    def bad(self, where: str, message: str, value: Any = None) -> None:
        problem = Problem(self.source, message, column=where, value=value)
        if str(problem) not in map(str, self.problems):  # a base rule is read once per period
            self.problems.append(problem)

    # typed readers: each returns a default after recording a problem
    def keys(self, table: Any, allowed: set[str], where: str) -> dict:
        if not isinstance(table, dict):
            self.bad(where, "应为一个表")
            return {}
        for key in table:
            if key not in allowed:
                self.bad(f"{where}.{key}", "未知的键")
        return table

    def text(self, table: dict, key: str, where: str, required: bool = False, default: str = "") -> str:
        if key not in table:
            if required:
                self.bad(f"{where}.{key}", "缺少必填的键")
            return default
        value = table[key]
        if not isinstance(value, str) or (required and not value.strip()):
            self.bad(f"{where}.{key}", "应为非空文本" if required else "应为文本", value)
            return default
        return value.strip()

    def number(self, table: dict, key: str, where: str, required: bool = False,
               positive: bool = False) -> Decimal | None:
        if key not in table:
            if required:
                self.bad(f"{where}.{key}", "缺少必填的键")
            return None
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.bad(f"{where}.{key}", "类型错误：应为数字", value)
            return None
        if isinstance(value, float) and not math.isfinite(value):
            self.bad(f"{where}.{key}", "应为有限的数字（不能是 nan 或 inf）", value)
            return None
        if value < 0:
            self.bad(f"{where}.{key}", "不能为负数", value)
            return None
        if positive and value == 0:
            self.bad(f"{where}.{key}", "应大于 0", value)
            return None
        return decimal(value)

    def integer(self, table: dict, key: str, where: str, default: int = 0, minimum: int = 0) -> int:
        if key not in table:
            return default
        value = table[key]
        if isinstance(value, bool) or not isinstance(value, int):
            self.bad(f"{where}.{key}", "类型错误：应为整数", value)
            return default
        if value < minimum:
            self.bad(f"{where}.{key}", f"应不小于 {minimum}", value)
            return default
        return value

    def flag(self, table: dict, key: str, where: str, default: bool = False) -> bool:
        if key not in table:
            return default
        if not isinstance(table[key], bool):
            self.bad(f"{where}.{key}", "类型错误：应为 true 或 false", table[key])
            return default
        return table[key]

    def text_list(self, table: dict, key: str, where: str) -> tuple[str, ...]:
        if key not in table:
            return ()
        value = table[key]
        if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
            self.bad(f"{where}.{key}", "类型错误：应为非空文本的列表", value)
            return ()
        if len(set(value)) != len(value):
            self.bad(f"{where}.{key}", "列表中有重复", value)
        return tuple(v.strip() for v in value)

    def ident(self, table: dict, where: str, seen: set[str]) -> str:
        value = table.get("id")
        if not isinstance(value, str) or not value:
            self.bad(f"{where}.id", "缺少编号（id）", value)
            return ""
        if not value.isascii() or any(c in value for c in " \t,|/\\、") or not value.isprintable():
            self.bad(f"{where}.id", "编号只能使用 ASCII 字符，且不能含空格、逗号、| 或斜杠", value)
        if value in seen:
            self.bad(f"{where}.id", "编号重复", value)
        seen.add(value)
        return value

    def entries(self, tables: list, kind: str, allowed: set[str]):
        """Each table of an array of tables with its place for messages (`kind[id]`, `kind[#n]` without
        an id) and its checked id: unknown keys and missing, malformed or repeated ids are reported."""
        seen: set[str] = set()
        for n, table in enumerate(tables, start=1):
            where = f"{kind}[{table.get('id', f'#{n}')}]"
            table = self.keys(table, allowed, where)
            yield table, where, self.ident(table, where, seen)

    def array(self, data: dict, key: str) -> list:
        value = data.get(key, [])
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.bad(key, f"应写成 [[{key}]] 表数组")
            return []
        return value

    def collect(self, tables: list, kind: str, allowed: set[str]) -> dict[str, tuple[dict, str]]:
        """The tables of a tree (items, components) by id, first one of an id kept, with their place."""
        raw: dict[str, tuple[dict, str]] = {}
        for table, where, ident in self.entries(tables, kind, allowed):
            if ident and ident not in raw:
                raw[ident] = (table, where)
        return raw

    def check_cycles(self, parents: dict[str, Any], kind: str) -> None:
        for start in parents:
            seen, at = set(), start
            while isinstance(at, str) and at in parents:
                if at in seen:
                    self.bad(f"{kind}[{start}].parent", "上下级关系成环", start)
                    break
                seen.add(at)
                at = parents[at]
