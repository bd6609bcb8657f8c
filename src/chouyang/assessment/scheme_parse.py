"""A scheme file's tables as a `Scheme`: the head, the composite, bonus/deduction groups, flags and consequences.

The checklist tree is read by `scheme_tree.py`; every problem goes to the `SchemeReader`, in
file order within each kind of table, so `parse_scheme` can list them all at once.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from chouyang.assessment import scheme_tree
from chouyang.assessment.scheme_model import (
    ADJUSTMENT_RULES,
    CONSEQUENCE_KINDS,
    PERIODS,
    RULE_KEYS,
    SIGNS,
    SOURCES,
    SURVEY_COLUMNS,
    AdjustmentGroup,
    AdjustmentItem,
    Component,
    Consequence,
    Flag,
    Item,
    Scheme,
    fmt_points,
)
from chouyang.assessment.scheme_reader import (
    ADJ_KEYS,
    COMPONENT_KEYS,
    COMPOSITE_KEYS,
    CONSEQUENCE_KEYS,
    FLAG_KEYS,
    GROUP_KEYS,
    SCHEME_KEYS,
    SchemeReader,
    known,
)

_TOP = {"scheme", "composite", "item", "component", "adjustment", "flag", "consequence"}
# score source -> the keys a leaf component of that source may have
_SOURCE_KEYS = {"checklist": {"item"}, "survey": {"column", "cap"}, "indicator": {"column", "percent"} | RULE_KEYS,
                "entered": set()}
_COMPONENT_ONLY_KEYS = ("item", "column", "cap", "percent") + tuple(sorted(RULE_KEYS - {"points"}))
# adjustment rule -> the keys it takes
_ADJUSTMENT_KEYS = {"fixed": {"points"}, "per_count": {"points"}, "entered": {"min", "max", "factor"},
                    "survey": {"column"}}
# consequence kind -> the keys it takes
_CONSEQUENCE_KEYS = {"top": {"n", "component"}, "bottom": {"n", "component"}, "county_last": {"skip"},
                     "veto": {"ranks_last"}, "repeat": {"previous", "current", "becomes"}}


def read_scheme(r: SchemeReader, data: dict, sha256: str) -> Scheme:
    """The whole file; its problems are on `r` (the Scheme returned then holds defaults in their places)."""
    for key in data:
        if key not in _TOP:
            r.bad(key, f"未知的节（可用：{'、'.join(sorted(_TOP))}）")
    head = r.keys(data.get("scheme", {}), SCHEME_KEYS, "scheme")
    if "scheme" not in data:
        r.bad("scheme", "缺少 [scheme] 节")
    period = r.text(head, "period", "scheme", required=True, default="half")
    if period not in PERIODS:
        r.bad("scheme.period", f"应为 {' 或 '.join(PERIODS)}（半年考核或全年考核）", period)
        period = "half"
    comp_head = r.keys(data.get("composite", {}), COMPOSITE_KEYS, "composite")
    items = scheme_tree.items(r, r.array(data, "item"))
    components = _components(r, r.array(data, "component"), items)
    consequences = _consequences(r, r.array(data, "consequence"), components)
    groups = _groups(r, r.array(data, "adjustment"))
    flags = _flags(r, r.array(data, "flag"), consequences)
    tiebreak = r.text_list(comp_head, "tiebreak", "composite")
    for c in tiebreak:
        if c not in components:
            r.bad("composite.tiebreak", "没有这个得分组成部分", c)
    points = r.number(comp_head, "points", "composite", required=bool(components))
    top_total = sum((c.weight * c.points for c in components.values() if c.parent is None), Decimal(0))
    if points is not None and components and top_total != points:
        r.bad("composite.points", f"顶层组成部分的满分乘以权重合计为 {fmt_points(top_total)}，与总分不符", fmt_points(points))
    return Scheme(
        name=r.text(head, "name", "scheme", required=True),
        section=r.text(head, "section", "scheme", required=True),
        period=period, note=r.text(head, "note", "scheme"),
        points=points if points is not None else top_total, tiebreak=tiebreak,
        items=items, components=components, groups=groups, flags=flags, consequences=consequences,
        source=r.source, sha256=sha256, composite_quote=r.text(comp_head, "quote", "composite"))


# --- composite ----------------------------------------------------------------------

def _components(r: SchemeReader, tables: list[dict], items: dict[str, Item]) -> dict[str, Component]:
    raw = r.collect(tables, "component", COMPONENT_KEYS)
    children: dict[str, list[str]] = {i: [] for i in raw}
    for ident, (table, where) in raw.items():
        parent = table.get("parent")
        if parent is not None:
            if not known(parent, raw) or parent == ident:
                r.bad(f"{where}.parent", "上级组成部分不存在", parent)
            else:
                children[parent].append(ident)
    r.check_cycles({i: t.get("parent") for i, (t, _) in raw.items()}, "component")
    out = {ident: _component(r, ident, table, where, tuple(children[ident]), raw, items)
           for ident, (table, where) in raw.items()}
    for comp in out.values():
        if comp.children:
            total = sum((out[c].weight * out[c].points for c in comp.children), Decimal(0))
            if total != comp.points:
                r.bad(f"component[{comp.id}].points",
                      f"下级满分乘以权重合计为 {fmt_points(total)}，与本部分满分不符", fmt_points(comp.points))
    return out


def _component(r: SchemeReader, ident: str, table: dict, where: str, kids: tuple[str, ...],
               raw: dict[str, tuple[dict, str]], items: dict[str, Item]) -> Component:
    points = r.number(table, "points", where, required=True) or Decimal(0)
    weight = r.number(table, "weight", where, positive=True)
    source = _component_source(r, table, where, kids)
    used = _SOURCE_KEYS.get(source, set())
    for key in _COMPONENT_ONLY_KEYS:
        if key in table and key not in used:
            r.bad(f"{where}.{key}", f"得分来源 {source or '（合计）'} 不使用这个键", table[key])
    args = _SOURCE_ARGS[source](r, table, where, points, items) if source in _SOURCE_ARGS else {}
    return Component(
        id=ident, title=r.text(table, "title", where, required=True), points=points,
        weight=weight if weight is not None else Decimal(1),
        parent=table.get("parent") if known(table.get("parent"), raw) else None, children=kids, source=source,
        quote=r.text(table, "quote", where), note=r.text(table, "note", where),
        borrowed_from=r.text(table, "borrowed_from", where), **args)


def _component_source(r: SchemeReader, table: dict, where: str, kids: tuple[str, ...]) -> str | None:
    """Where a leaf's score comes from; None for a node (the sum of its children) or after a problem."""
    source = table.get("source")
    if kids:
        if source is not None:
            r.bad(f"{where}.source", "有下级的组成部分不能有来源（由下级合计）", source)
        return None
    if not known(source, SOURCES):
        r.bad(f"{where}.source", f"未知或缺少得分来源（可用：{'、'.join(SOURCES)}）", source)
        return None
    return source


def _checklist_args(r: SchemeReader, table: dict, where: str, points: Decimal, items: dict[str, Item]) -> dict[str, Any]:
    item = r.text(table, "item", where, required=True)
    if item and item not in items:
        r.bad(f"{where}.item", "综合治理清单中没有这个条目", item)
    return {"item": item}


def _survey_args(r: SchemeReader, table: dict, where: str, points: Decimal, items: dict[str, Item]) -> dict[str, Any]:
    column = r.text(table, "column", where, default="deduction")
    if column not in SURVEY_COLUMNS:
        r.bad(f"{where}.column", f"应为 {' 或 '.join(SURVEY_COLUMNS)}", column)
    return {"column": column, "cap": r.number(table, "cap", where)}


def _indicator_args(r: SchemeReader, table: dict, where: str, points: Decimal, items: dict[str, Item]) -> dict[str, Any]:
    column = r.text(table, "column", where, required=True)
    percent = r.flag(table, "percent", where, default=True)
    rule = scheme_tree.rule(r, {**table, "points": None}, where, points, {}, percent=percent)
    if rule is not None and rule.kind not in ("rate_slope", "rate_threshold"):
        r.bad(f"{where}.rule", "修正指标只能按比例规则计分（rate_slope 或 rate_threshold）", rule.kind)
        rule = None
    return {"column": column, "percent": percent, "rule": rule}


_SOURCE_ARGS = {"checklist": _checklist_args, "survey": _survey_args, "indicator": _indicator_args}


# --- bonus and deductions -------------------------------------------------------------

def _groups(r: SchemeReader, tables: list[dict]) -> tuple[AdjustmentGroup, ...]:
    seen_items: set[str] = set()
    out = []
    for table, where, ident in r.entries(tables, "adjustment", GROUP_KEYS):
        sign = table.get("sign")
        if not known(sign, SIGNS):
            r.bad(f"{where}.sign", "应为 bonus（加分）或 deduction（减分）", sign)
        items = _group_items(r, table, where, ident, seen_items)
        if not items:
            r.bad(f"{where}.item", "加减分组中没有条目")
        out.append(AdjustmentGroup(
            id=ident, title=r.text(table, "title", where, required=True), sign=sign if known(sign, SIGNS) else
            "deduction", cap=r.number(table, "cap", where), items=tuple(items),
            quote=r.text(table, "quote", where), note=r.text(table, "note", where),
            borrowed_from=r.text(table, "borrowed_from", where)))
    ids = {a.id for g in out for a in g.items}
    for g in out:
        for a in g.items:
            for required in a.requires:
                if required not in ids or required == a.id:
                    r.bad(f"adjustment[{g.id}].item[{a.id}].requires", "所依附的加减分条目不存在", required)
    return tuple(out)


def _group_items(r: SchemeReader, table: dict, where: str, group: str, seen: set[str]) -> list[AdjustmentItem]:
    """The `[[adjustment.item]]` tables of one group; item ids are unique across all groups (`seen`)."""
    tables = table.get("item", [])
    out = []
    for m, it in enumerate(tables if isinstance(tables, list) else [], start=1):
        iwhere = f"{where}.item[{it.get('id', f'#{m}') if isinstance(it, dict) else m}]"
        it = r.keys(it, ADJ_KEYS, iwhere)
        out.append(_adjustment_item(r, it, iwhere, group, seen))
    return out


def _adjustment_item(r: SchemeReader, table: dict, where: str, group: str, seen: set[str]) -> AdjustmentItem:
    ident = r.ident(table, where, seen)
    rule = table.get("rule")
    if not known(rule, ADJUSTMENT_RULES):
        r.bad(f"{where}.rule", f"未知的加减分规则（可用：{'、'.join(ADJUSTMENT_RULES)}）", rule)
        rule = "entered"
    used = _ADJUSTMENT_KEYS[rule]
    for key in ("points", "min", "max", "factor", "column"):
        if key in table and key not in used:
            r.bad(f"{where}.{key}", f"加减分规则 {rule} 不使用这个键", table[key])
    args = _adjustment_args(r, rule, table, where)
    requires = r.text_list(table, "requires", where)
    if requires and rule in ("survey", "entered"):
        r.bad(f"{where}.requires", "只有 fixed 或 per_count 条目可以依附其他条目（加扣）", list(requires))
    return AdjustmentItem(
        id=ident, group=group, title=r.text(table, "title", where, required=True), rule=rule,
        requires=requires, evidence=r.text(table, "evidence", where), quote=r.text(table, "quote", where),
        note=r.text(table, "note", where), borrowed_from=r.text(table, "borrowed_from", where),
        **{k: v for k, v in args.items() if v is not None})


def _adjustment_args(r: SchemeReader, rule: str, table: dict, where: str) -> dict[str, Any]:
    """The points of a fixed or counted item, the range and factor of an entered one, a survey item's column."""
    if rule in ("fixed", "per_count"):
        return {"points": r.number(table, "points", where, required=True, positive=True)}
    if rule == "survey":
        column = r.text(table, "column", where, default="deduction_raw")
        if column not in SURVEY_COLUMNS:
            r.bad(f"{where}.column", f"应为 {' 或 '.join(SURVEY_COLUMNS)}", column)
        return {"column": column}
    args = {"min": r.number(table, "min", where), "max": r.number(table, "max", where)}
    if None not in (args["min"], args["max"]) and args["min"] > args["max"]:
        r.bad(f"{where}.min", "下限大于上限", fmt_points(args["min"]))
    factor = r.number(table, "factor", where, positive=True)
    if factor is not None:
        args["factor"] = factor
    return args


# --- flags and consequences --------------------------------------------------------------

def _flags(r: SchemeReader, tables: list[dict], consequences: dict[str, Consequence]) -> dict[str, Flag]:
    out = {}
    for table, where, ident in r.entries(tables, "flag", FLAG_KEYS):
        target = r.text(table, "consequence", where, required=True)
        if target and (target not in consequences or consequences[target].kind not in ("bottom", "veto")
                       or consequences[target].component):
            r.bad(f"{where}.consequence", "应为一条 bottom（总排名末位）或 veto 后果的编号", target)
        out[ident] = Flag(id=ident, title=r.text(table, "title", where, required=True), consequence=target,
                          quote=r.text(table, "quote", where), note=r.text(table, "note", where),
                          borrowed_from=r.text(table, "borrowed_from", where))
    return out


def _consequences(r: SchemeReader, tables: list[dict], components: dict[str, Component]) -> dict[str, Consequence]:
    out: dict[str, Consequence] = {}
    for table, where, ident in r.entries(tables, "consequence", CONSEQUENCE_KEYS):
        consequence = _consequence(r, table, where, ident, components)
        if consequence is not None:
            out[ident] = consequence
    _check_consequence_links(r, out)
    if sum(c.kind == "veto" for c in out.values()) > 1:
        r.bad("consequence", "只能有一条 veto（一票否决）后果")
    return out


def _consequence(r: SchemeReader, table: dict, where: str, ident: str,
                 components: dict[str, Component]) -> Consequence | None:
    """One consequence rule (None without an id, after its problems are recorded)."""
    kind = table.get("kind")
    if kind not in CONSEQUENCE_KINDS:
        r.bad(f"{where}.kind", f"未知的后果类型（可用：{'、'.join(CONSEQUENCE_KINDS)}）", kind)
        kind = None
    label = r.text(table, "label", where, required=True)
    if "、" in label:
        r.bad(f"{where}.label", "名称中不能有顿号「、」（结果表用顿号分隔多项后果）", label)
    used = _CONSEQUENCE_KEYS.get(kind, set())
    for key in ("n", "component", "skip", "previous", "current", "becomes", "ranks_last"):
        if key in table and key not in used:
            r.bad(f"{where}.{key}", f"后果类型 {kind} 不使用这个键", table[key])
    args = _CONSEQUENCE_ARGS[kind](r, kind, table, where, components) if kind in _CONSEQUENCE_ARGS else {}
    if not ident:
        return None
    return Consequence(id=ident, kind=kind or "top", label=label, quote=r.text(table, "quote", where),
                       note=r.text(table, "note", where), borrowed_from=r.text(table, "borrowed_from", where), **args)


def _ranked_args(r: SchemeReader, kind: str, table: dict, where: str, components: dict[str, Component]) -> dict[str, Any]:
    """top / bottom: how many, and the component ranked (none: the total)."""
    args: dict[str, Any] = {"n": r.integer(table, "n", where, default=0, minimum=0)}
    if "n" not in table:
        r.bad(f"{where}.n", "缺少必填的键")
    comp = table.get("component")
    if comp is not None:
        if not known(comp, components):
            r.bad(f"{where}.component", "没有这个得分组成部分", comp)
        else:
            args["component"] = comp
    if kind == "top" and args["n"] == 0:
        r.bad(f"{where}.n", "应不小于 1", 0)
    return args


def _county_last_args(r: SchemeReader, kind: str, table: dict, where: str,
                      components: dict[str, Component]) -> dict[str, Any]:
    return {"skip": r.text_list(table, "skip", where)}


def _veto_args(r: SchemeReader, kind: str, table: dict, where: str, components: dict[str, Component]) -> dict[str, Any]:
    return {"ranks_last": r.flag(table, "ranks_last", where)}


def _repeat_args(r: SchemeReader, kind: str, table: dict, where: str, components: dict[str, Component]) -> dict[str, Any]:
    args: dict[str, Any] = {"previous": r.text(table, "previous", where, required=True),
                            "current": r.text(table, "current", where, required=True)}
    args["becomes"] = r.text(table, "becomes", where) or None
    return args


_CONSEQUENCE_ARGS = {"top": _ranked_args, "bottom": _ranked_args, "county_last": _county_last_args,
                     "veto": _veto_args, "repeat": _repeat_args}


def _check_consequence_links(r: SchemeReader, out: dict[str, Consequence]) -> None:
    """What county_last skips and what a repeat rule reads and becomes must be consequences of the file."""
    for c in out.values():
        where = f"consequence[{c.id}]"
        if c.kind == "county_last":
            for s in c.skip:
                if s not in out:
                    r.bad(f"{where}.skip", "没有这条后果", s)
        if c.kind == "repeat":
            if c.current and c.current not in out:
                r.bad(f"{where}.current", "没有这条后果", c.current)
            if c.becomes is not None and (c.becomes not in out or out[c.becomes].kind != "bottom"):
                r.bad(f"{where}.becomes", "应为一条 bottom 后果的编号", c.becomes)
            elif c.becomes is not None and out[c.becomes].label != c.label:
                r.bad(f"{where}.label", f"转为「{out[c.becomes].label}」的后果，名称应与之相同", c.label)
