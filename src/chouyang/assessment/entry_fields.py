"""What a township enters, by the scheme: one table per entry sheet, for printed checklists and entry workbooks.

`fact_fields` (checklist facts), `score_fields` (component scores entered by hand),
`adjustment_fields` (bonus and deduction items) and `flag_fields` (violations and veto);
`facts.py` re-exports them with the checking of what was entered.
"""

from __future__ import annotations

import pandas as pd

from chouyang import vocab
from chouyang.assessment.scheme import ADJUSTMENT_RULES, ITEM_RULES, PERIODS, Scheme, fmt_points


def _allowed(kind: str, rule) -> str:
    if kind == "yes_no":
        return "/".join(vocab.YES_NO)
    if kind == "count":
        return f"0–{rule.max_count} 的整数" if rule.max_count else "0 或正整数"
    if kind == "rate":
        return "0–100（%）"
    if kind == "score":
        return f"0–{fmt_points(rule.points)} 分"
    return ""


def fact_fields(scheme: Scheme, period: str | None = None) -> pd.DataFrame:
    """One row per fact a township enters on the checklist (per department for per-department items).

    Columns: item, part, path, title, points, rule, rule_label, fact_kind, fact, allowed, evidence,
    reference_required, required (False for an item scored by default in this period), quote, note.
    """
    period = period or scheme.period
    rows = []
    for item in scheme.leaves():
        rule = item.rules[period]
        kind = rule.fact_kind
        base = {"item": item.id, "path": scheme.path_title(item.parent) if item.parent else "",
                "title": item.title, "points": float(item.points), "rule": rule.kind,
                "rule_label": ITEM_RULES[rule.kind][0] if not rule.default_full else f"{PERIODS[period]}默认满分",
                "fact_kind": kind, "fact": rule.fact if not rule.default_full else f"{PERIODS[period]}默认满分，不用填写",
                "allowed": _allowed(kind, rule), "evidence": rule.evidence,
                "reference_required": item.reference_required and kind == "yes_no" and not rule.default_full,
                "required": not rule.default_full, "quote": rule.quote or item.quote,
                "note": rule.note or item.note}
        parts = rule.departments if rule.kind == "per_department" and not rule.default_full else ("",)
        for part in parts:
            rows.append({**base, "part": part})
    columns = ["item", "part", "path", "title", "points", "rule", "rule_label", "fact_kind", "fact", "allowed",
               "evidence", "reference_required", "required", "quote", "note"]
    return pd.DataFrame(rows, columns=columns)


def score_fields(scheme: Scheme) -> pd.DataFrame:
    """Component scores entered by hand: `entered` components always, survey/indicator ones when not visited.

    Columns: component, path, title, points, source, when ("always" or "not_visited"), quote, note.
    """
    rows = []
    for comp in scheme.components.values():
        if comp.source not in ("entered", "survey", "indicator"):
            continue
        path = " > ".join(scheme.components[c].title for c in reversed(_component_ancestors(scheme, comp.id)[1:]))
        rows.append({"component": comp.id, "path": path, "title": comp.title, "points": float(comp.points),
                     "source": comp.source, "when": "always" if comp.source == "entered" else "not_visited",
                     "quote": comp.quote, "note": comp.note})
    return pd.DataFrame(rows, columns=["component", "path", "title", "points", "source", "when", "quote", "note"])


def _component_ancestors(scheme: Scheme, comp_id: str) -> list[str]:
    out, at = [], comp_id
    while at is not None:
        out.append(at)
        at = scheme.components[at].parent
    return out


def adjustment_fields(scheme: Scheme) -> pd.DataFrame:
    """Bonus and deduction items a township may enter (survey-computed items are not entered).

    Columns: item, group, group_title, sign, cap, title, rule, rule_label, fact_kind, allowed, requires,
    evidence, quote, note.
    """
    rows = []
    for group in scheme.groups:
        for a in group.items:
            if a.rule == "survey":
                continue
            if a.rule == "fixed":
                kind, allowed = "yes_no", "/".join(vocab.YES_NO)
            elif a.rule == "per_count":
                kind, allowed = "count", "0 或正整数（起数、例数）"
            else:
                low = fmt_points(a.min) if a.min is not None else "0"
                kind, allowed = "score", f"{low}–{fmt_points(a.max)} 分" if a.max is not None else f"不小于 {low} 的分值"
                if a.factor != 1:
                    allowed += f"（按 {fmt_points(a.factor)} 倍计）"
            points = f"{fmt_points(a.points)} 分" if a.points is not None else ""
            rows.append({"item": a.id, "group": group.id, "group_title": group.title, "sign": group.sign,
                         "cap": float(group.cap) if group.cap is not None else None, "title": a.title,
                         "rule": a.rule, "rule_label": ADJUSTMENT_RULES[a.rule] + (f" {points}" if points else ""),
                         "fact_kind": kind, "allowed": allowed, "requires": "、".join(a.requires),
                         "evidence": a.evidence, "quote": a.quote, "note": a.note})
    return pd.DataFrame(rows, columns=["item", "group", "group_title", "sign", "cap", "title", "rule", "rule_label",
                                       "fact_kind", "allowed", "requires", "evidence", "quote", "note"])


def flag_fields(scheme: Scheme) -> pd.DataFrame:
    """Violations and veto that decide a consequence. Columns: flag, title, consequence, label, quote, note."""
    rows = [{"flag": f.id, "title": f.title, "consequence": f.consequence,
             "label": scheme.consequences[f.consequence].label, "quote": f.quote, "note": f.note}
            for f in scheme.flags.values()]
    return pd.DataFrame(rows, columns=["flag", "title", "consequence", "label", "quote", "note"])
