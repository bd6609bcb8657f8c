"""Assessment schemes as data (issue 13): checklist tree, composite, bonus/deductions, flags, consequences.

A scheme is one TOML file.  Presets ship in `chouyang/schemes/<name>.toml`; a
round keeps its own copy as `ROUND/scheme.toml` (`scheme_names`, `scheme_text`,
`load_scheme_preset`, `load_scheme`, `parse_scheme`).  Every rule that comes
from seed 004 carries the sentence it comes from as `quote` (an exact substring
of the seed); an element whose sentence comes from another section than the
scheme's own `section` says so in `borrowed_from`.

File format (every table and key; unknown ones are refused):

    # one-line Chinese description (shown by a preset list)
    [scheme]
    name = "..."                  # title printed on checklists and reports
    section = "第二篇"            # where in seed 004 the scheme comes from
    period = "half"               # "half" (半年考核) or "full" (全年/年终考核)
    note = "..."                  # optional: what the seed leaves out

    [composite]
    points = 280                  # total of the top-level components (times their weights)
    tiebreak = ["A"]              # optional: component ids that break ties in the total, in order

    [[item]]                      # one node of the checklist tree (file order = printed order)
    id = "A1.2.4"                 # ASCII, unique; facts and traces name items by id
    parent = "A1.2"               # absent for a root
    title = "领导小组会议"
    points = 5                    # a leaf's full marks; a node's subtotal
    rule = "per_count"            # leaves only, see ITEM_RULES
    per = 3
    quote = "领导小组1年内召开1次会议计3分,计满5为止"
    fact = "会议次数"             # what the township enters (default by rule)
    evidence = "会议记录"         # what the assessor checks
    reference_required = false    # true: a scoring "是" needs a document name or number
    incomplete = "..."            # a node only: its children cover less than `points` (seed cut off)
    [item.half]                   # optional per-period variant: overrides rule keys, quote, fact, evidence
    default_full = true           # "半年考核时此项均默认为满分": full marks, nothing to enter

    [[component]]                 # one node of the composite
    id = "city"; title = "市考核"; points = 100; weight = 0.6
    source = "checklist"          # leaves only: checklist | survey | indicator | entered
    item = "A"                    # checklist: the subtree (scaled to `points`)
    column = "deduction"          # survey: the townships.csv column deducted; indicator: the rate column
    cap = 8                       # survey: optional cap on the deduction
    rule = "rate_threshold"       # indicator: an item rate rule and its keys (rates in %)
    percent = true                # indicator: the column holds fractions, scored as %

    [[adjustment]]                # a group of bonus or deduction items with one cap
    id = "bonus"; title = "加分"; sign = "bonus"   # or "deduction"
    cap = 12                      # optional
    [[adjustment.item]]
    id = "city_site"; title = "..."; rule = "fixed"; points = 2
    # rules: fixed (once), per_count (points per occurrence), entered (min..max, times factor),
    # survey (points from a townships.csv column, e.g. deduction_raw; 0 for a township not visited)
    requires = ["detention", "fees"]  # an add-on (加扣): only with one of these items, count at most theirs

    [[flag]]                      # an entered violation or veto that decides a consequence
    id = "major_case"; title = "..."; consequence = "manage"

    [[consequence]]               # kinds: top, bottom, county_last, veto, repeat (see assessment.py)
    id = "manage"; kind = "bottom"; label = "重点管理"; n = 5

Numbers are held as `Decimal` (from the TOML text's shortest float form), so
sums of points are exact and equal totals are exact ties.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from decimal import Decimal
from importlib.resources import files
from pathlib import Path
from typing import Any

from chouyang.config.toml import decode_toml, loads_toml, read_bytes
from chouyang.errors import ChouyangError, Problem

_WHAT = "考核方案"  # how messages name scheme.toml
PERIODS = {"half": "半年考核", "full": "全年考核"}

# rule kind -> (Chinese name, rule keys it takes besides `points`)
ITEM_RULES: dict[str, tuple[str, tuple[str, ...]]] = {
    "yes_no": ("是否计分", ()),
    "per_count": ("按数计分，计满为止", ("per", "max_count")),
    "deduct_per_count": ("按数扣分，扣完为止", ("per", "max_count")),
    "rate_slope": ("比例达标计满分，每低1个百分点扣分", ("full_at", "per_point", "zero_below", "shortfall")),
    "rate_threshold": ("比例达标计分，否则不计分", ("threshold",)),
    "per_department": ("按部门计分", ("per", "departments")),
    "entered": ("录入得分", ()),
}
RULE_KEYS = {"rule", "points", "per", "max_count", "full_at", "per_point", "zero_below", "shortfall",
             "threshold", "departments"}
SHORTFALL = {"exact": "按实际差距计算", "whole": "只计满1个百分点的差距"}

# fact kind by rule kind: what a township enters
FACT_KINDS = {"yes_no": "yes_no", "per_count": "count", "deduct_per_count": "count", "rate_slope": "rate",
              "rate_threshold": "rate", "per_department": "yes_no", "entered": "score"}
DEFAULT_FACT = {"yes_no": "是否做到", "per_count": "数量", "deduct_per_count": "数量", "rate_slope": "比例（%）",
                "rate_threshold": "比例（%）", "per_department": "是否做到", "entered": "得分"}

SOURCES = {"checklist": "综合治理清单", "survey": "抽样调查", "indicator": "修正指标", "entered": "录入得分"}
SURVEY_COLUMNS = ("deduction", "deduction_raw")
SIGNS = {"bonus": "加分", "deduction": "减分"}
ADJUSTMENT_RULES = {"fixed": "发生即计", "per_count": "每起（例）计", "entered": "录入分值", "survey": "抽样调查扣分"}
CONSEQUENCE_KINDS = ("top", "bottom", "county_last", "veto", "repeat")

_SCHEME_KEYS = {"name", "section", "period", "note"}
_COMPOSITE_KEYS = {"points", "tiebreak", "quote", "note", "borrowed_from"}
_COMMON = {"quote", "note", "borrowed_from"}
_ITEM_KEYS = RULE_KEYS | _COMMON | {"id", "parent", "title", "fact", "evidence", "reference_required",
                                    "incomplete", "half", "full"}
_VARIANT_KEYS = RULE_KEYS | {"quote", "fact", "evidence", "note", "default_full", "borrowed_from"}
_COMPONENT_KEYS = (RULE_KEYS - {"points"}) | _COMMON | {"id", "parent", "title", "points", "weight", "source",
                                                       "item", "column", "cap", "percent"}
_GROUP_KEYS = _COMMON | {"id", "title", "sign", "cap", "item"}
_ADJ_KEYS = _COMMON | {"id", "title", "rule", "points", "min", "max", "factor", "column", "requires", "evidence"}
_FLAG_KEYS = _COMMON | {"id", "title", "consequence"}
_CONSEQUENCE_KEYS = _COMMON | {"id", "kind", "label", "n", "component", "skip", "previous", "current", "becomes",
                               "ranks_last"}


@dataclass(frozen=True)
class Rule:
    """How one leaf item (or an indicator component) turns a fact into points, in one period."""

    kind: str
    points: Decimal
    quote: str = ""
    fact: str = ""
    evidence: str = ""
    note: str = ""
    borrowed_from: str = ""
    per: Decimal | None = None
    max_count: int | None = None
    full_at: Decimal | None = None
    per_point: Decimal | None = None
    zero_below: Decimal | None = None
    shortfall: str = "exact"
    threshold: Decimal | None = None
    departments: tuple[str, ...] = ()
    default_full: bool = False

    @property
    def fact_kind(self) -> str:
        return "default" if self.default_full else FACT_KINDS[self.kind]


@dataclass(frozen=True)
class Item:
    id: str
    title: str
    points: Decimal
    parent: str | None
    children: tuple[str, ...]
    quote: str = ""
    note: str = ""
    borrowed_from: str = ""
    incomplete: str = ""
    reference_required: bool = False
    rules: dict[str, Rule] = field(default_factory=dict)  # period -> rule; leaves only

    @property
    def is_leaf(self) -> bool:
        return not self.children


@dataclass(frozen=True)
class Component:
    id: str
    title: str
    points: Decimal
    weight: Decimal
    parent: str | None
    children: tuple[str, ...]
    source: str | None = None
    item: str | None = None
    column: str | None = None
    cap: Decimal | None = None
    percent: bool = True
    rule: Rule | None = None
    quote: str = ""
    note: str = ""
    borrowed_from: str = ""


@dataclass(frozen=True)
class AdjustmentItem:
    id: str
    group: str
    title: str
    rule: str
    points: Decimal | None = None
    min: Decimal | None = None
    max: Decimal | None = None
    factor: Decimal = Decimal(1)
    column: str | None = None
    requires: tuple[str, ...] = ()  # an add-on (加扣): only with at least one of these items
    evidence: str = ""
    quote: str = ""
    note: str = ""
    borrowed_from: str = ""


@dataclass(frozen=True)
class AdjustmentGroup:
    id: str
    title: str
    sign: str
    cap: Decimal | None
    items: tuple[AdjustmentItem, ...]
    quote: str = ""
    note: str = ""
    borrowed_from: str = ""


@dataclass(frozen=True)
class Flag:
    id: str
    title: str
    consequence: str
    quote: str = ""
    note: str = ""
    borrowed_from: str = ""


@dataclass(frozen=True)
class Consequence:
    id: str
    kind: str
    label: str
    n: int = 0
    component: str | None = None
    skip: tuple[str, ...] = ()
    previous: str = ""
    current: str | None = None
    becomes: str | None = None
    ranks_last: bool = False
    quote: str = ""
    note: str = ""
    borrowed_from: str = ""


@dataclass(frozen=True)
class Scheme:
    name: str
    section: str
    period: str
    note: str
    points: Decimal
    tiebreak: tuple[str, ...]
    items: dict[str, Item]
    components: dict[str, Component]
    groups: tuple[AdjustmentGroup, ...]
    flags: dict[str, Flag]
    consequences: dict[str, Consequence]
    source: str
    sha256: str
    composite_quote: str = ""

    @property
    def adjustment_items(self) -> dict[str, AdjustmentItem]:
        return {a.id: a for g in self.groups for a in g.items}

    def rule(self, item_id: str, period: str | None = None) -> Rule:
        return self.items[item_id].rules[period or self.period]

    def leaves(self, root: str | None = None) -> list[Item]:
        """Leaf items in file order (under `root` when given)."""
        return [i for i in self.items.values() if i.is_leaf and (root is None or root in self.ancestors(i.id))]

    def ancestors(self, item_id: str) -> list[str]:
        """The item itself and every ancestor, nearest first."""
        out, at = [], item_id
        while at is not None:
            out.append(at)
            at = self.items[at].parent
        return out

    def path_title(self, item_id: str) -> str:
        return " > ".join(self.items[i].title for i in reversed(self.ancestors(item_id)))

    def missing_points(self, item_id: str) -> Decimal:
        """Points of a node its children do not cover (non-zero only for `incomplete` nodes)."""
        item = self.items[item_id]
        if item.is_leaf:
            return Decimal(0)
        return item.points - sum((self.items[c].points for c in item.children), Decimal(0))

    def quotes(self) -> list[tuple[str, str, str]]:
        """Every quoted seed sentence: (where, quote, section it must come from)."""
        out = []

        def add(where: str, quote: str, borrowed: str) -> None:
            if quote:
                out.append((where, quote, borrowed or self.section))

        add("composite", self.composite_quote, "")
        for item in self.items.values():
            add(f"item[{item.id}]", item.quote, item.borrowed_from)
            seen = set()
            for period, rule in item.rules.items():
                if (rule.quote, rule.borrowed_from) not in seen:
                    seen.add((rule.quote, rule.borrowed_from))
                    if rule.quote != item.quote:
                        add(f"item[{item.id}].{period}", rule.quote, rule.borrowed_from)
        for comp in self.components.values():
            add(f"component[{comp.id}]", comp.quote, comp.borrowed_from)
        for group in self.groups:
            add(f"adjustment[{group.id}]", group.quote, group.borrowed_from)
            for a in group.items:
                add(f"adjustment[{group.id}].item[{a.id}]", a.quote, a.borrowed_from or group.borrowed_from)
        for flag in self.flags.values():
            add(f"flag[{flag.id}]", flag.quote, flag.borrowed_from)
        for c in self.consequences.values():
            add(f"consequence[{c.id}]", c.quote, c.borrowed_from)
        return out


# --- presets and loading -------------------------------------------------------

def scheme_names() -> list[str]:
    return sorted(p.name[:-5] for p in files("chouyang").joinpath("schemes").iterdir() if p.name.endswith(".toml"))


def scheme_text(name: str) -> str:
    if name not in scheme_names():
        raise ChouyangError(f"没有名为「{name}」的考核方案预设。可用预设：{'、'.join(scheme_names())}")
    return files("chouyang").joinpath("schemes", f"{name}.toml").read_text(encoding="utf-8")


def scheme_description(name: str) -> str:
    """The first comment line of a scheme preset is its one-line Chinese description."""
    return scheme_text(name).splitlines()[0].lstrip("# ").strip()


def load_scheme_preset(name: str) -> Scheme:
    return parse_scheme(scheme_text(name), f"考核方案预设 {name}")


def load_scheme(path: Path) -> Scheme:
    path = Path(path)
    return parse_scheme(decode_toml(read_bytes(path, _WHAT), str(path), _WHAT), str(path))


def parse_scheme(text: str, source: str) -> Scheme:
    """Parse and validate a scheme; every problem is listed with the file, the element and the key."""
    data = loads_toml(text, source, _WHAT)
    parser = _Parser(source)
    scheme = parser.scheme(data, hashlib.sha256(text.encode("utf-8")).hexdigest())
    if parser.problems:
        raise ChouyangError(f"考核方案 {source} 有错误", parser.problems)
    return scheme


# --- the parser -------------------------------------------------------------------

def _decimal(value: float | int) -> Decimal:
    return Decimal(value) if isinstance(value, int) else Decimal(repr(value))


class _Parser:
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
        return _decimal(value)

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

    # --- whole file
    def scheme(self, data: dict, sha256: str) -> Scheme:
        top = {"scheme", "composite", "item", "component", "adjustment", "flag", "consequence"}
        for key in data:
            if key not in top:
                self.bad(key, f"未知的节（可用：{'、'.join(sorted(top))}）")
        head = self.keys(data.get("scheme", {}), _SCHEME_KEYS, "scheme")
        if "scheme" not in data:
            self.bad("scheme", "缺少 [scheme] 节")
        period = self.text(head, "period", "scheme", required=True, default="half")
        if period not in PERIODS:
            self.bad("scheme.period", f"应为 {' 或 '.join(PERIODS)}（半年考核或全年考核）", period)
            period = "half"
        comp_head = self.keys(data.get("composite", {}), _COMPOSITE_KEYS, "composite")
        items = self.items(self.array(data, "item"))
        components = self.components(self.array(data, "component"), items)
        consequences = self.consequences(self.array(data, "consequence"), components)
        groups = self.groups(self.array(data, "adjustment"))
        flags = self.flags(self.array(data, "flag"), consequences)
        tiebreak = self.text_list(comp_head, "tiebreak", "composite")
        for c in tiebreak:
            if c not in components:
                self.bad("composite.tiebreak", "没有这个得分组成部分", c)
        points = self.number(comp_head, "points", "composite", required=bool(components))
        top_total = sum((c.weight * c.points for c in components.values() if c.parent is None), Decimal(0))
        if points is not None and components and top_total != points:
            self.bad("composite.points", f"顶层组成部分的满分乘以权重合计为 {fmt_points(top_total)}，与总分不符", fmt_points(points))
        return Scheme(
            name=self.text(head, "name", "scheme", required=True),
            section=self.text(head, "section", "scheme", required=True),
            period=period, note=self.text(head, "note", "scheme"),
            points=points if points is not None else top_total, tiebreak=tiebreak,
            items=items, components=components, groups=groups, flags=flags, consequences=consequences,
            source=self.source, sha256=sha256, composite_quote=self.text(comp_head, "quote", "composite"))

    # --- checklist tree
    def rule(self, table: dict, where: str, points: Decimal | None, defaults: dict[str, str],
             percent: bool = True) -> Rule | None:
        kind = table.get("rule")
        if kind is None:
            self.bad(f"{where}.rule", "末级条目缺少计分规则（rule）")
            return None
        if kind not in ITEM_RULES:
            self.bad(f"{where}.rule", f"未知的计分规则（可用：{'、'.join(ITEM_RULES)}）", kind)
            return None
        takes = set(ITEM_RULES[kind][1])
        for key in RULE_KEYS - {"rule", "points"} - takes:
            if key in table:
                self.bad(f"{where}.{key}", f"计分规则 {kind} 不使用这个键", table[key])
        if points is None:
            points = Decimal(0)
        default_full = self.flag(table, "default_full", where)
        args: dict[str, Any] = {}
        if kind in ("per_count", "deduct_per_count"):
            args["per"] = self.number(table, "per", where, required=True, positive=True)
            if "max_count" in table:
                args["max_count"] = self.integer(table, "max_count", where, minimum=1)
        elif kind == "rate_slope":
            args["full_at"] = self.number(table, "full_at", where, required=True, positive=True)
            args["per_point"] = self.number(table, "per_point", where, required=True, positive=True)
            args["zero_below"] = self.number(table, "zero_below", where)
            args["shortfall"] = self.text(table, "shortfall", where, default="exact")
            if args["shortfall"] not in SHORTFALL:
                self.bad(f"{where}.shortfall", f"应为 {' 或 '.join(SHORTFALL)}", args["shortfall"])
            for key in ("full_at", "zero_below"):
                if percent and args[key] is not None and args[key] > 100:
                    self.bad(f"{where}.{key}", "比例应在 0–100（%）之间", fmt_points(args[key]))
            if None not in (args["full_at"], args["zero_below"]) and args["zero_below"] > args["full_at"]:
                self.bad(f"{where}.zero_below", "不计分的下限高于计满分的比例", fmt_points(args["zero_below"]))
        elif kind == "rate_threshold":
            args["threshold"] = self.number(table, "threshold", where, required=True)
            if percent and args["threshold"] is not None and args["threshold"] > 100:
                self.bad(f"{where}.threshold", "比例应在 0–100（%）之间", fmt_points(args["threshold"]))
        elif kind == "per_department":
            args["per"] = self.number(table, "per", where, required=True, positive=True)
            args["departments"] = self.text_list(table, "departments", where)
            if not args["departments"]:
                self.bad(f"{where}.departments", "按部门计分须列出部门")
            elif args["per"] is not None and args["per"] * len(args["departments"]) != points:
                self.bad(f"{where}.per", f"每部门分值 × {len(args['departments'])} 个部门不等于满分 {fmt_points(points)}",
                         fmt_points(args["per"]))
        return Rule(kind=kind, points=points, default_full=default_full,
                    quote=self.text(table, "quote", where) or defaults.get("quote", ""),
                    fact=self.text(table, "fact", where) or defaults.get("fact", "") or DEFAULT_FACT[kind],
                    evidence=self.text(table, "evidence", where) or defaults.get("evidence", ""),
                    note=self.text(table, "note", where) or defaults.get("note", ""),
                    borrowed_from=self.text(table, "borrowed_from", where) or defaults.get("borrowed_from", ""),
                    **{k: v for k, v in args.items() if v is not None})

    def items(self, tables: list[dict]) -> dict[str, Item]:
        raw: dict[str, tuple[dict, str]] = {}
        for table, where, ident in self.entries(tables, "item", _ITEM_KEYS):
            if ident and ident not in raw:
                raw[ident] = (table, where)
        children: dict[str, list[str]] = {i: [] for i in raw}
        for ident, (table, where) in raw.items():
            parent = table.get("parent")
            if parent is None:
                continue
            if parent not in raw:
                self.bad(f"{where}.parent", "上级条目不存在", parent)
            elif parent == ident:
                self.bad(f"{where}.parent", "条目不能是自己的上级", parent)
            else:
                children[parent].append(ident)
        self._check_cycles({i: t.get("parent") for i, (t, _) in raw.items()}, "item")
        items: dict[str, Item] = {}
        for ident, (table, where) in raw.items():
            points = self.number(table, "points", where, required=True)
            kids = tuple(children[ident])
            rules: dict[str, Rule] = {}
            if kids:
                for key in sorted((RULE_KEYS - {"points"}) | {"half", "full", "fact", "evidence",
                                                              "reference_required"}):
                    if key in table:
                        self.bad(f"{where}.{key}", "有下级条目的条目不能有计分规则，规则写在末级条目上", table[key])
            else:
                if "incomplete" in table:
                    self.bad(f"{where}.incomplete", "末级条目不能标注 incomplete（只用于下级条目不足额的上级条目）")
                rules = self.period_rules(table, where, points)
            items[ident] = Item(
                id=ident, title=self.text(table, "title", where, required=True), points=points or Decimal(0),
                parent=table.get("parent") if table.get("parent") in raw else None, children=kids,
                quote=self.text(table, "quote", where), note=self.text(table, "note", where),
                borrowed_from=self.text(table, "borrowed_from", where),
                incomplete=self.text(table, "incomplete", where),
                reference_required=self.flag(table, "reference_required", where), rules=rules)
        for item in items.values():
            if not item.children:
                continue
            where = f"item[{item.id}]"
            total = sum((items[c].points for c in item.children), Decimal(0))
            if total > item.points:
                self.bad(f"{where}.points", f"下级条目合计 {fmt_points(total)} 分，超过本条目的 {fmt_points(item.points)} 分",
                         fmt_points(item.points))
            elif total < item.points and not item.incomplete:
                self.bad(f"{where}.points", f"下级条目合计只有 {fmt_points(total)} 分，少于本条目的 {fmt_points(item.points)} 分"
                         "（若原文缺失细则，请用 incomplete 说明缺什么）", fmt_points(item.points))
            elif total == item.points and item.incomplete:
                self.bad(f"{where}.incomplete", "下级条目已足额，不应标注 incomplete")
        return items

    def period_rules(self, table: dict, where: str, points: Decimal | None) -> dict[str, Rule]:
        base = {k: v for k, v in table.items() if k in RULE_KEYS | {"quote", "fact", "evidence", "note",
                                                                    "borrowed_from"}}
        defaults = {k: self.text(table, k, where) for k in ("fact", "evidence", "note", "borrowed_from")}
        defaults["quote"] = self.text(table, "quote", where)
        rules: dict[str, Rule] = {}
        for period in PERIODS:
            variant = table.get(period, {})
            vwhere = f"{where}.{period}"
            variant = self.keys(variant, _VARIANT_KEYS, vwhere)
            if "points" in variant:
                self.bad(f"{vwhere}.points", "各期满分须相同：满分写在条目上")
            merged = dict(base)
            if "rule" in variant and variant["rule"] != base.get("rule"):
                merged = {k: v for k, v in merged.items() if k not in RULE_KEYS - {"points"}}
            merged.update(variant)
            defaults_p = dict(defaults)
            for key in ("quote", "fact", "evidence", "note", "borrowed_from"):
                if key in variant:
                    defaults_p[key] = ""
            if self.flag(variant, "default_full", vwhere) and "rule" not in merged:
                merged["rule"] = "entered"  # a default-full item needs no rule of its own
            rule = self.rule(merged, where if period not in table else vwhere, points, defaults_p)
            if rule is not None:
                rules[period] = rule
        return rules

    def _check_cycles(self, parents: dict[str, Any], kind: str) -> None:
        for start in parents:
            seen, at = set(), start
            while isinstance(at, str) and at in parents:
                if at in seen:
                    self.bad(f"{kind}[{start}].parent", "上下级关系成环", start)
                    break
                seen.add(at)
                at = parents[at]

    # --- composite
    def components(self, tables: list[dict], items: dict[str, Item]) -> dict[str, Component]:
        raw: dict[str, tuple[dict, str]] = {}
        for table, where, ident in self.entries(tables, "component", _COMPONENT_KEYS):
            if ident and ident not in raw:
                raw[ident] = (table, where)
        children: dict[str, list[str]] = {i: [] for i in raw}
        for ident, (table, where) in raw.items():
            parent = table.get("parent")
            if parent is not None:
                if parent not in raw or parent == ident:
                    self.bad(f"{where}.parent", "上级组成部分不存在", parent)
                else:
                    children[parent].append(ident)
        self._check_cycles({i: t.get("parent") for i, (t, _) in raw.items()}, "component")
        out: dict[str, Component] = {}
        for ident, (table, where) in raw.items():
            points = self.number(table, "points", where, required=True) or Decimal(0)
            weight = self.number(table, "weight", where, positive=True)
            kids = tuple(children[ident])
            source = table.get("source")
            args: dict[str, Any] = {}
            if kids:
                if source is not None:
                    self.bad(f"{where}.source", "有下级的组成部分不能有来源（由下级合计）", source)
                source = None
            elif source not in SOURCES:
                self.bad(f"{where}.source", f"未知或缺少得分来源（可用：{'、'.join(SOURCES)}）", source)
                source = None
            used = {"checklist": {"item"}, "survey": {"column", "cap"},
                    "indicator": {"column", "percent"} | RULE_KEYS, "entered": set()}.get(source, set())
            for key in ("item", "column", "cap", "percent") + tuple(sorted(RULE_KEYS - {"points"})):
                if key in table and key not in used:
                    self.bad(f"{where}.{key}", f"得分来源 {source or '（合计）'} 不使用这个键", table[key])
            if source == "checklist":
                args["item"] = self.text(table, "item", where, required=True)
                if args["item"] and args["item"] not in items:
                    self.bad(f"{where}.item", "综合治理清单中没有这个条目", args["item"])
            elif source == "survey":
                args["column"] = self.text(table, "column", where, default="deduction")
                if args["column"] not in SURVEY_COLUMNS:
                    self.bad(f"{where}.column", f"应为 {' 或 '.join(SURVEY_COLUMNS)}", args["column"])
                args["cap"] = self.number(table, "cap", where)
            elif source == "indicator":
                args["column"] = self.text(table, "column", where, required=True)
                args["percent"] = self.flag(table, "percent", where, default=True)
                rule = self.rule({**table, "points": None}, where, points, {}, percent=args["percent"])
                if rule is not None and rule.kind not in ("rate_slope", "rate_threshold"):
                    self.bad(f"{where}.rule", "修正指标只能按比例规则计分（rate_slope 或 rate_threshold）", rule.kind)
                    rule = None
                args["rule"] = rule
            out[ident] = Component(
                id=ident, title=self.text(table, "title", where, required=True), points=points,
                weight=weight if weight is not None else Decimal(1),
                parent=table.get("parent") if table.get("parent") in raw else None, children=kids, source=source,
                quote=self.text(table, "quote", where), note=self.text(table, "note", where),
                borrowed_from=self.text(table, "borrowed_from", where), **args)
        for comp in out.values():
            if comp.children:
                total = sum((out[c].weight * out[c].points for c in comp.children), Decimal(0))
                if total != comp.points:
                    self.bad(f"component[{comp.id}].points",
                             f"下级满分乘以权重合计为 {fmt_points(total)}，与本部分满分不符", fmt_points(comp.points))
        return out

    # --- bonus and deductions
    def groups(self, tables: list[dict]) -> tuple[AdjustmentGroup, ...]:
        seen_items: set[str] = set()
        out = []
        for table, where, ident in self.entries(tables, "adjustment", _GROUP_KEYS):
            sign = table.get("sign")
            if sign not in SIGNS:
                self.bad(f"{where}.sign", "应为 bonus（加分）或 deduction（减分）", sign)
            items = []
            for m, it in enumerate(table.get("item", []) if isinstance(table.get("item", []), list) else [],
                                   start=1):
                iwhere = f"{where}.item[{it.get('id', f'#{m}') if isinstance(it, dict) else m}]"
                it = self.keys(it, _ADJ_KEYS, iwhere)
                items.append(self.adjustment_item(it, iwhere, ident, seen_items))
            if not items:
                self.bad(f"{where}.item", "加减分组中没有条目")
            out.append(AdjustmentGroup(
                id=ident, title=self.text(table, "title", where, required=True), sign=sign if sign in SIGNS else
                "deduction", cap=self.number(table, "cap", where), items=tuple(items),
                quote=self.text(table, "quote", where), note=self.text(table, "note", where),
                borrowed_from=self.text(table, "borrowed_from", where)))
        ids = {a.id for g in out for a in g.items}
        for g in out:
            for a in g.items:
                for r in a.requires:
                    if r not in ids or r == a.id:
                        self.bad(f"adjustment[{g.id}].item[{a.id}].requires", "所依附的加减分条目不存在", r)
        return tuple(out)

    def adjustment_item(self, table: dict, where: str, group: str, seen: set[str]) -> AdjustmentItem:
        ident = self.ident(table, where, seen)
        rule = table.get("rule")
        if rule not in ADJUSTMENT_RULES:
            self.bad(f"{where}.rule", f"未知的加减分规则（可用：{'、'.join(ADJUSTMENT_RULES)}）", rule)
            rule = "entered"
        used = {"fixed": {"points"}, "per_count": {"points"}, "entered": {"min", "max", "factor"},
                "survey": {"column"}}[rule]
        for key in ("points", "min", "max", "factor", "column"):
            if key in table and key not in used:
                self.bad(f"{where}.{key}", f"加减分规则 {rule} 不使用这个键", table[key])
        args: dict[str, Any] = {}
        if rule in ("fixed", "per_count"):
            args["points"] = self.number(table, "points", where, required=True, positive=True)
        elif rule == "entered":
            args["min"] = self.number(table, "min", where)
            args["max"] = self.number(table, "max", where)
            if None not in (args["min"], args["max"]) and args["min"] > args["max"]:
                self.bad(f"{where}.min", "下限大于上限", fmt_points(args["min"]))
            factor = self.number(table, "factor", where, positive=True)
            if factor is not None:
                args["factor"] = factor
        else:
            args["column"] = self.text(table, "column", where, default="deduction_raw")
            if args["column"] not in SURVEY_COLUMNS:
                self.bad(f"{where}.column", f"应为 {' 或 '.join(SURVEY_COLUMNS)}", args["column"])
        requires = self.text_list(table, "requires", where)
        if requires and rule in ("survey", "entered"):
            self.bad(f"{where}.requires", "只有 fixed 或 per_count 条目可以依附其他条目（加扣）", list(requires))
        return AdjustmentItem(
            id=ident, group=group, title=self.text(table, "title", where, required=True), rule=rule,
            requires=requires, evidence=self.text(table, "evidence", where), quote=self.text(table, "quote", where),
            note=self.text(table, "note", where), borrowed_from=self.text(table, "borrowed_from", where),
            **{k: v for k, v in args.items() if v is not None})

    # --- flags and consequences
    def flags(self, tables: list[dict], consequences: dict[str, Consequence]) -> dict[str, Flag]:
        out = {}
        for table, where, ident in self.entries(tables, "flag", _FLAG_KEYS):
            target = self.text(table, "consequence", where, required=True)
            if target and (target not in consequences or consequences[target].kind not in ("bottom", "veto")
                           or consequences[target].component):
                self.bad(f"{where}.consequence", "应为一条 bottom（总排名末位）或 veto 后果的编号", target)
            out[ident] = Flag(id=ident, title=self.text(table, "title", where, required=True), consequence=target,
                              quote=self.text(table, "quote", where), note=self.text(table, "note", where),
                              borrowed_from=self.text(table, "borrowed_from", where))
        return out

    def consequences(self, tables: list[dict], components: dict[str, Component]) -> dict[str, Consequence]:
        out: dict[str, Consequence] = {}
        for table, where, ident in self.entries(tables, "consequence", _CONSEQUENCE_KEYS):
            kind = table.get("kind")
            if kind not in CONSEQUENCE_KINDS:
                self.bad(f"{where}.kind", f"未知的后果类型（可用：{'、'.join(CONSEQUENCE_KINDS)}）", kind)
                kind = None
            label = self.text(table, "label", where, required=True)
            if "、" in label:
                self.bad(f"{where}.label", "名称中不能有顿号「、」（结果表用顿号分隔多项后果）", label)
            used = {"top": {"n", "component"}, "bottom": {"n", "component"}, "county_last": {"skip"},
                    "veto": {"ranks_last"}, "repeat": {"previous", "current", "becomes"}}.get(kind, set())
            for key in ("n", "component", "skip", "previous", "current", "becomes", "ranks_last"):
                if key in table and key not in used:
                    self.bad(f"{where}.{key}", f"后果类型 {kind} 不使用这个键", table[key])
            args: dict[str, Any] = {}
            if kind in ("top", "bottom"):
                args["n"] = self.integer(table, "n", where, default=0, minimum=0)
                if "n" not in table:
                    self.bad(f"{where}.n", "缺少必填的键")
                comp = table.get("component")
                if comp is not None:
                    if comp not in components:
                        self.bad(f"{where}.component", "没有这个得分组成部分", comp)
                    else:
                        args["component"] = comp
                if kind == "top" and args["n"] == 0:
                    self.bad(f"{where}.n", "应不小于 1", 0)
            elif kind == "county_last":
                args["skip"] = self.text_list(table, "skip", where)
            elif kind == "veto":
                args["ranks_last"] = self.flag(table, "ranks_last", where)
            elif kind == "repeat":
                args["previous"] = self.text(table, "previous", where, required=True)
                args["current"] = self.text(table, "current", where, required=True)
                becomes = self.text(table, "becomes", where)
                args["becomes"] = becomes or None
            if ident:
                out[ident] = Consequence(
                    id=ident, kind=kind or "top", label=label, quote=self.text(table, "quote", where),
                    note=self.text(table, "note", where), borrowed_from=self.text(table, "borrowed_from", where),
                    **args)
        for c in out.values():
            where = f"consequence[{c.id}]"
            if c.kind == "county_last":
                for s in c.skip:
                    if s not in out:
                        self.bad(f"{where}.skip", "没有这条后果", s)
            if c.kind == "repeat":
                if c.current and c.current not in out:
                    self.bad(f"{where}.current", "没有这条后果", c.current)
                if c.becomes is not None and (c.becomes not in out or out[c.becomes].kind != "bottom"):
                    self.bad(f"{where}.becomes", "应为一条 bottom 后果的编号", c.becomes)
                elif c.becomes is not None and out[c.becomes].label != c.label:
                    self.bad(f"{where}.label", f"转为「{out[c.becomes].label}」的后果，名称应与之相同", c.label)
        if sum(c.kind == "veto" for c in out.values()) > 1:
            self.bad("consequence", "只能有一条 veto（一票否决）后果")
        return out


def fmt_points(value: Decimal | None) -> str:
    """A Decimal as people write it: 5, 2.5, 0.6 (no trailing zeros, no exponent)."""
    if value is None:
        return ""
    text = format(value.normalize(), "f")
    return text
