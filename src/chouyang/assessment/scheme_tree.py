"""The checklist tree of a scheme: `[[item]]` tables become `Item`s, a leaf's rule keys a `Rule` per period.

Problems are recorded on the `SchemeReader` in the order the file is read (an item's id,
its parent, its points, its rule keys, then its texts), so a file's messages keep their order.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from chouyang.assessment.scheme_model import DEFAULT_FACT, ITEM_RULES, PERIODS, RULE_KEYS, SHORTFALL, Item, Rule, fmt_points
from chouyang.assessment.scheme_reader import ITEM_KEYS, VARIANT_KEYS, SchemeReader, known

# what an item's own keys give every period unless its variant says otherwise
_INHERITED_TEXTS = ("quote", "fact", "evidence", "note", "borrowed_from")
# keys only a leaf may have: a node's score is its children's
_LEAF_KEYS = (RULE_KEYS - {"points"}) | {"half", "full", "fact", "evidence", "reference_required"}


def items(r: SchemeReader, tables: list[dict]) -> dict[str, Item]:
    raw = r.collect(tables, "item", ITEM_KEYS)
    children = _children(r, raw)
    r.check_cycles({i: t.get("parent") for i, (t, _) in raw.items()}, "item")
    out = {ident: _item(r, ident, table, where, tuple(children[ident]), raw) for ident, (table, where) in raw.items()}
    _check_subtotals(r, out)
    return out


def _children(r: SchemeReader, raw: dict[str, tuple[dict, str]]) -> dict[str, list[str]]:
    """Each item's children in file order; a missing parent or an item its own parent is reported."""
    children: dict[str, list[str]] = {i: [] for i in raw}
    for ident, (table, where) in raw.items():
        parent = table.get("parent")
        if parent is None:
            continue
        if not known(parent, raw):
            r.bad(f"{where}.parent", "上级条目不存在", parent)
        elif parent == ident:
            r.bad(f"{where}.parent", "条目不能是自己的上级", parent)
        else:
            children[parent].append(ident)
    return children


def _item(r: SchemeReader, ident: str, table: dict, where: str, kids: tuple[str, ...],
          raw: dict[str, tuple[dict, str]]) -> Item:
    points = r.number(table, "points", where, required=True)
    rules: dict[str, Rule] = {}
    if kids:
        for key in sorted(_LEAF_KEYS):
            if key in table:
                r.bad(f"{where}.{key}", "有下级条目的条目不能有计分规则，规则写在末级条目上", table[key])
    else:
        if "incomplete" in table:
            r.bad(f"{where}.incomplete", "末级条目不能标注 incomplete（只用于下级条目不足额的上级条目）")
        rules = period_rules(r, table, where, points)
    return Item(
        id=ident, title=r.text(table, "title", where, required=True), points=points or Decimal(0),
        parent=table.get("parent") if known(table.get("parent"), raw) else None, children=kids,
        quote=r.text(table, "quote", where), note=r.text(table, "note", where),
        borrowed_from=r.text(table, "borrowed_from", where),
        incomplete=r.text(table, "incomplete", where),
        reference_required=r.flag(table, "reference_required", where), rules=rules)


def _check_subtotals(r: SchemeReader, items: dict[str, Item]) -> None:
    """A node's points are its children's sum; less only when `incomplete` says what the seed leaves out."""
    for item in items.values():
        if not item.children:
            continue
        where = f"item[{item.id}]"
        total = sum((items[c].points for c in item.children), Decimal(0))
        if total > item.points:
            r.bad(f"{where}.points", f"下级条目合计 {fmt_points(total)} 分，超过本条目的 {fmt_points(item.points)} 分",
                  fmt_points(item.points))
        elif total < item.points and not item.incomplete:
            r.bad(f"{where}.points", f"下级条目合计只有 {fmt_points(total)} 分，少于本条目的 {fmt_points(item.points)} 分"
                  "（若原文缺失细则，请用 incomplete 说明缺什么）", fmt_points(item.points))
        elif total == item.points and item.incomplete:
            r.bad(f"{where}.incomplete", "下级条目已足额，不应标注 incomplete")


# --- a leaf's rule, per period ------------------------------------------------------

def period_rules(r: SchemeReader, table: dict, where: str, points: Decimal | None) -> dict[str, Rule]:
    base = {k: v for k, v in table.items() if k in RULE_KEYS | {"quote", "fact", "evidence", "note",
                                                                "borrowed_from"}}
    defaults = {k: r.text(table, k, where) for k in ("fact", "evidence", "note", "borrowed_from")}
    defaults["quote"] = r.text(table, "quote", where)
    rules: dict[str, Rule] = {}
    for period in PERIODS:
        rule = _period_rule(r, table, where, points, base, defaults, period)
        if rule is not None:
            rules[period] = rule
    return rules


def _period_rule(r: SchemeReader, table: dict, where: str, points: Decimal | None, base: dict,
                 defaults: dict[str, str], period: str) -> Rule | None:
    """One period's rule: the item's rule keys, overridden by its `[item.half]` / `[item.full]` variant.

    A variant with another rule kind starts from no rule keys; a text the variant gives replaces
    the item's; `default_full` alone needs no rule of its own.
    """
    vwhere = f"{where}.{period}"
    variant = r.keys(table.get(period, {}), VARIANT_KEYS, vwhere)
    if "points" in variant:
        r.bad(f"{vwhere}.points", "各期满分须相同：满分写在条目上")
    merged = dict(base)
    if "rule" in variant and variant["rule"] != base.get("rule"):
        merged = {k: v for k, v in merged.items() if k not in RULE_KEYS - {"points"}}
    merged.update(variant)
    own_defaults = {key: "" if key in variant else value for key, value in defaults.items()}
    if r.flag(variant, "default_full", vwhere) and "rule" not in merged:
        merged["rule"] = "entered"  # a default-full item needs no rule of its own
    return rule(r, merged, where if period not in table else vwhere, points, own_defaults)


def rule(r: SchemeReader, table: dict, where: str, points: Decimal | None, defaults: dict[str, str],
         percent: bool = True) -> Rule | None:
    """The rule of one leaf item or indicator component, or None (after a problem) without a known kind."""
    kind = table.get("rule")
    if kind is None:
        r.bad(f"{where}.rule", "末级条目缺少计分规则（rule）")
        return None
    if not known(kind, ITEM_RULES):
        r.bad(f"{where}.rule", f"未知的计分规则（可用：{'、'.join(ITEM_RULES)}）", kind)
        return None
    takes = set(ITEM_RULES[kind][1])
    for key in RULE_KEYS - {"rule", "points"} - takes:
        if key in table:
            r.bad(f"{where}.{key}", f"计分规则 {kind} 不使用这个键", table[key])
    if points is None:
        points = Decimal(0)
    default_full = r.flag(table, "default_full", where)
    args = _RULE_ARGS.get(kind, _no_args)(r, table, where, points, percent)
    return Rule(kind=kind, points=points, default_full=default_full, **_rule_texts(r, table, where, defaults, kind),
                **{k: v for k, v in args.items() if v is not None})


def _rule_texts(r: SchemeReader, table: dict, where: str, defaults: dict[str, str], kind: str) -> dict[str, str]:
    """The rule's own texts, else the item's (`defaults`); a fact without a name gets the rule kind's."""
    texts = {key: r.text(table, key, where) or defaults.get(key, "") for key in _INHERITED_TEXTS}
    texts["fact"] = texts["fact"] or DEFAULT_FACT[kind]
    return texts


def _no_args(r: SchemeReader, table: dict, where: str, points: Decimal, percent: bool) -> dict[str, Any]:
    return {}


def _count_args(r: SchemeReader, table: dict, where: str, points: Decimal, percent: bool) -> dict[str, Any]:
    args: dict[str, Any] = {"per": r.number(table, "per", where, required=True, positive=True)}
    if "max_count" in table:
        args["max_count"] = r.integer(table, "max_count", where, minimum=1)
    return args


def _slope_args(r: SchemeReader, table: dict, where: str, points: Decimal, percent: bool) -> dict[str, Any]:
    args: dict[str, Any] = {
        "full_at": r.number(table, "full_at", where, required=True, positive=True),
        "per_point": r.number(table, "per_point", where, required=True, positive=True),
        "zero_below": r.number(table, "zero_below", where),
        "shortfall": r.text(table, "shortfall", where, default="exact"),
    }
    if args["shortfall"] not in SHORTFALL:
        r.bad(f"{where}.shortfall", f"应为 {' 或 '.join(SHORTFALL)}", args["shortfall"])
    for key in ("full_at", "zero_below"):
        if percent and args[key] is not None and args[key] > 100:
            r.bad(f"{where}.{key}", "比例应在 0–100（%）之间", fmt_points(args[key]))
    if None not in (args["full_at"], args["zero_below"]) and args["zero_below"] > args["full_at"]:
        r.bad(f"{where}.zero_below", "不计分的下限高于计满分的比例", fmt_points(args["zero_below"]))
    return args


def _threshold_args(r: SchemeReader, table: dict, where: str, points: Decimal, percent: bool) -> dict[str, Any]:
    threshold = r.number(table, "threshold", where, required=True)
    if percent and threshold is not None and threshold > 100:
        r.bad(f"{where}.threshold", "比例应在 0–100（%）之间", fmt_points(threshold))
    return {"threshold": threshold}


def _department_args(r: SchemeReader, table: dict, where: str, points: Decimal, percent: bool) -> dict[str, Any]:
    per = r.number(table, "per", where, required=True, positive=True)
    departments = r.text_list(table, "departments", where)
    if not departments:
        r.bad(f"{where}.departments", "按部门计分须列出部门")
    elif per is not None and per * len(departments) != points:
        r.bad(f"{where}.per", f"每部门分值 × {len(departments)} 个部门不等于满分 {fmt_points(points)}", fmt_points(per))
    return {"per": per, "departments": departments}


# rule kind -> the reader of the keys it takes (yes_no and entered take none)
_RULE_ARGS = {"per_count": _count_args, "deduct_per_count": _count_args, "rate_slope": _slope_args,
              "rate_threshold": _threshold_args, "per_department": _department_args}
