"""Instrument definitions in TOML → `Instrument`, and the one semantic check every reader shares.

A definition file is UTF-8 TOML (any other encoding is refused, naming the file)::

    [instrument]
    name = "survey"          # ASCII form id: a letter or _, then letters, digits, _ - .
    title = "人口和计划生育抽样调查核查表"   # must contain Chinese
    code = "HC2"             # form code in the QR payload of the printed pages (ASCII)
    version = "2"
    per = "point"            # point | township | household | person

    [layout]                 # free-form print geometry (mm), passed through as Instrument.layout

    [choices]                # list name = [[code, label], ...]; codes are what is stored
    yes_no = [["是", "是"], ["否", "否"]]

    [[group]]                # a section, or with repeat = true a repeat
    name = "women_check"
    label = "育龄妇女核对"
    repeat = true
    rows = "register"        # register (needs table) | blank (blank_rows) | fixed (fixed)
    table = "women"
    key = "ref"              # the field holding the row's key
    blank_rows = 0
    fixed = [["a1", "第一项"]]  # rows = "fixed": [row key, row label] in print order
    relevant = "..."
      [[group.field]]
      name = "ref"  type = "text"  label = "编号"  prefill = "ref"
      # also: choices (list name, for select_one / select_multiple, or the tick scale of an
      # integer / decimal with paper = "ticks": 0 … 5+), required ("yes" or an expression),
      # relevant, constraint, constraint_message, hint, calculation, verifies, scores,
      # paper (ticks | digits | write | printed | none), width, option_width (mm), digits,
      # top (open | confirm: a count scale, whole-number codes, the last one meaning "or more")

Every key is the model's name (chouyang.instruments.model).  A container (the file itself or a
group) lists its children in ONE ordered array: `group` when all of them are groups, else
`field`, where a nested group is an entry with `type = "group"` (plus its own `field` array).
Using both arrays in one container is refused: their relative order would be lost.

References: `${name}` in an expression resolves to the field (or group) of that name in the
referencing node's own group (its subtree), else in the nearest enclosing group that has one,
else anywhere in the instrument if the name is unique there.  Two candidates at the nearest level
that has any are ambiguous and refused.  `check` is shared by this reader and the XLSForm reader
(chouyang.instruments.xlsform); the checks themselves live in chouyang.instruments.checks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from chouyang.config.toml import loads_toml, read_bytes
from chouyang.errors import ChouyangError, Problem
from chouyang.instruments.checks import GROUP_TYPE, Locator, TomlLocator, array_name, canonical_prefix, check, node_paths, resolve
from chouyang.instruments.model import Choice, ChoiceList, Field, Group, Instrument

__all__ = ["load", "loads", "check", "resolve", "node_paths", "Locator", "TomlLocator",
           "array_name", "canonical_prefix", "FIELD_KEYS", "GROUP_KEYS", "INSTRUMENT_KEYS"]

INSTRUMENT_KEYS = ("name", "title", "code", "version", "per")
GROUP_KEYS = ("type", "name", "label", "repeat", "rows", "table", "key", "blank_rows", "fixed", "relevant", "field", "group")
FIELD_TEXT_KEYS = ("name", "type", "label", "choices", "required", "relevant", "constraint", "constraint_message", "hint",
                   "calculation", "prefill", "verifies", "scores", "paper", "top")
FIELD_NUMBER_KEYS = ("width", "option_width")
FIELD_KEYS = FIELD_TEXT_KEYS + FIELD_NUMBER_KEYS + ("digits",)
_TOP_KEYS = ("instrument", "layout", "choices", "group", "field")
WHAT = "调查表定义"


def load(path: Path) -> Instrument:
    path = Path(path)
    return loads(read_bytes(path, WHAT), str(path))


def loads(text: str | bytes, source: str) -> Instrument:
    """Parse and check a definition; every problem is listed with the file and the key path."""
    data = loads_toml(text, source, WHAT)   # the project's one TOML reader: strict UTF-8, located syntax errors
    reader = _Reader(source)
    instrument = reader.instrument(data)
    problems = reader.problems
    if not problems:
        problems = check(instrument, TomlLocator(source, reader.prefixes))
    if problems:
        raise ChouyangError(f"调查表定义 {source} 有错误", problems)
    return instrument


class _Reader:
    """The structural part: tables, keys and value types.  Meaning is `check`'s."""

    def __init__(self, source: str):
        self.source = source
        self.problems: list[Problem] = []
        self.prefixes: dict[tuple[int, ...], str] = {}

    def bad(self, where: str, message: str, value: Any = None) -> None:
        self.problems.append(Problem(self.source, message, column=where, value=value))

    def table(self, value: Any, where: str, allowed) -> dict:
        if not isinstance(value, dict):
            self.bad(where, "应为一个表")
            return {}
        for key in value:
            if key not in allowed:
                self.bad(f"{where}.{key}", "未知的键")
        return value

    def text(self, table: dict, key: str, where: str) -> str | None:
        value = table.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            self.bad(f"{where}.{key}", "类型错误：应为文本", value)
            return None
        return value.strip()

    def number(self, table: dict, key: str, where: str, kind=float):
        value = table.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float) if kind is float else int):
            self.bad(f"{where}.{key}", "类型错误：应为" + ("数字" if kind is float else "整数"), value)
            return None
        return kind(value)

    def pairs(self, value: Any, where: str) -> tuple[tuple[str, str], ...]:
        ok = isinstance(value, list) and all(isinstance(p, list) and len(p) == 2 and all(isinstance(x, str) for x in p)
                                             for p in value)
        if not ok:
            self.bad(where, "类型错误：应为 [编码, 标签] 的列表（都是文本）", value)
            return ()
        return tuple((a.strip(), b.strip()) for a, b in value)

    def instrument(self, data: dict) -> Instrument:
        self.table(data, "", _TOP_KEYS)
        head = self.table(data.get("instrument", {}), "instrument", INSTRUMENT_KEYS)
        if "instrument" not in data:
            self.bad("instrument", "缺少 [instrument] 表")
        texts = {k: self.text(head, k, "instrument") or "" for k in INSTRUMENT_KEYS}
        layout = data.get("layout", {})
        if not isinstance(layout, dict):
            self.bad("layout", "应为一个表")
            layout = {}
        choices = {}
        for name, value in self.table(data.get("choices", {}), "choices", data.get("choices", {}) or {}).items():
            pairs = self.pairs(value, f"choices.{name}")
            choices[name] = ChoiceList(name, tuple(Choice(c, label) for c, label in pairs))
        children = self.children(data, "", ())
        return Instrument(name=texts["name"], title=texts["title"], code=texts["code"], version=texts["version"],
                          per=texts["per"], children=children, choices=choices, layout=layout, source=self.source)

    def children(self, table: dict, where: str, path: tuple[int, ...]) -> tuple:
        if "group" in table and "field" in table:
            self.bad(f"{where}group".lstrip("."), "同一层不能同时使用 field 和 group 两个数组（顺序无法确定）；"
                     "请把小组写成 field 数组中 type = \"group\" 的条目")
            return ()
        key = "group" if "group" in table else "field"
        entries = table.get(key, [])
        if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
            self.bad(f"{where}{key}", "应为表的数组（[[…]]）")
            return ()
        out = []
        for i, entry in enumerate(entries):
            here = f"{where}{key}[{i + 1}]"
            self.prefixes[path + (i,)] = here
            if key == "group" or entry.get("type") == GROUP_TYPE:
                out.append(self.group(entry, here, path + (i,)))
            else:
                out.append(self.field(entry, here))
        return tuple(out)

    def group(self, table: dict, where: str, path: tuple[int, ...]) -> Group:
        self.table(table, where, GROUP_KEYS)
        kind = self.text(table, "type", where)
        if kind not in (None, GROUP_TYPE):
            self.bad(f"{where}.type", f"group 数组中的条目类型只能是 {GROUP_TYPE}", kind)
        repeat = table.get("repeat", False)
        if not isinstance(repeat, bool):
            self.bad(f"{where}.repeat", "类型错误：应为 true 或 false", repeat)
            repeat = False
        blank_rows = self.number(table, "blank_rows", where, int)
        fixed = self.pairs(table["fixed"], f"{where}.fixed") if "fixed" in table else ()
        return Group(name=self.text(table, "name", where) or "", label=self.text(table, "label", where) or "",
                     repeat=repeat, rows=self.text(table, "rows", where), table=self.text(table, "table", where),
                     key=self.text(table, "key", where), blank_rows=blank_rows or 0, fixed=fixed,
                     relevant=self.text(table, "relevant", where) or None,
                     children=self.children(table, f"{where}.", path))

    def field(self, table: dict, where: str) -> Field:
        self.table(table, where, FIELD_KEYS)
        texts = {k: self.text(table, k, where) or None for k in FIELD_TEXT_KEYS}
        texts["name"], texts["type"], texts["label"] = texts["name"] or "", texts["type"] or "", texts["label"] or ""
        numbers = {k: self.number(table, k, where) for k in FIELD_NUMBER_KEYS}
        return Field(**texts, **numbers, digits=self.number(table, "digits", where, int))
