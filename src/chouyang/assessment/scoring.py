"""Scoring an assessment (issue 13), pure: checklist -> components -> composite -> bonus/deductions -> rank -> consequences.

Call `assess(scheme, townships, entries, survey=None, previous=None, period=None)`:
- `scheme`: a Scheme (scheme.py); `period` ("half"/"full") overrides the scheme's;
- `townships`: every township assessed (township_code, township_name);
- `entries`: what was entered (facts.Entries); it is checked first (facts.check_entries) and every
  problem is raised together in one ChouyangError;
- `survey`: the survey's township table (report/townships.csv; one row per visited township with
  `deduction`, `deduction_raw` and the rate columns) or None before the survey;
- `previous`: the composite table of the previous year's assessment (`township_code`,
  `consequences`) for the two-year escalation, or None.
It returns an `Assessment` whose tables trace every point to its item, rule, fact and sentence:
`townships` (the composite table; Chinese headers in `labels`), `items`, `components`,
`adjustments` and `consequences`, plus `notes` (what the scheme could not score).
`township_items(a, code)` is one township's item table for its 现场反馈单, `township_trace(a, code)`
every table of one township.

Item rules (points never below 0 nor above the item's points):
- yes_no: the item's points when the fact is 是, else 0;
- per_count: `per` points for each one counted, at most the item's points ("计满…为止");
- deduct_per_count: the item's points less `per` for each one counted, at least 0 ("扣完为止");
- rate_slope: at or above `full_at` % the item's points; below it `per_point` off for each
  percentage point short, at least 0; below `zero_below` % nothing.  The shortfall is exact
  (47.5 % against 50 % is 2.5 points short) unless `shortfall = "whole"` (only whole points
  count).  The slope and the lower bound combine as two separate limits: with the seed's
  事业费 numbers the slope reaches 0 at 38 % (half year) and 88 % (full year), before the stated
  bounds (30 %, 80 %), so there the bound changes no score;
- rate_threshold: the item's points at or above `threshold` %, else 0 ("…以上计分" includes the
  threshold);
- per_department: `per` points for each department answered 是;
- entered: the points entered;
- a period variant with `default_full` (半年考核时此项均默认为满分): full marks, nothing entered.
A node's score is the sum of its children's.  An `incomplete` node (the seed is cut off) has
points no rule covers: nobody earns them, and the item table and `notes` say so.

Composite: a checklist component scales its subtree's score to its own points; a survey
component is its points less the township's survey deduction (`column`, optionally capped again
by `cap`), at least 0; an indicator component scores a survey rate (×100 when `percent`) with
an item rate rule; an entered component is entered.  A township the survey did not visit (or
whose rate is undefined) has an entered score instead, marked "按主要工作数据".  A node is the
sum of its children times their weights; the composite is the sum of the top-level components
times theirs.  Bonus and deduction groups apply to the composite: each item's points (fixed
once, per_count times the count, entered times `factor`, survey from the survey table; 0 for a
township not visited), summed per group and capped by the group's cap.
total = composite + bonus − deductions (not floored: a negative total stays visible).
All arithmetic is exact decimal; tables hold floats of the exact values.

Ranking and ties: rank 1 is the highest total; equal totals are broken by the components in
`[composite] tiebreak` (higher first) and otherwise share a rank (1, 2, 2, 4).  With a veto
rule that `ranks_last`, vetoed townships rank after all others.

Consequences, evaluated in this order whatever the file order:
1. veto: townships with a flag pointing to it get its label; they cannot get any `top` label.
2. bottom without a component (重点管理): the last `n` by rank, plus flags pointing to it; these
   cannot get a `top` label either.
3. bottom / top with a component (单项预警, 表彰): by that component's score.
4. top without a component (先进): the first `n` of the townships still eligible.
5. county_last (重点帮助): per county (first 6 digits of the code), the last-ranked township not
   holding a `skip` consequence; when the last one holds one, the next one up ("往后顺延").
6. repeat, in file order: a township holding `current` this year and whose previous-year
   consequences include `previous` moves to `becomes` (连续两年重点帮助 → 重点管理, not passed
   down again) or gets the rule's label (连续两年重点管理 → 五职责任人免职).
A tie at a boundary includes every tied township (a consequence may then go to more than `n`;
`notes` says so), since the scheme gives no rule to separate them.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

import pandas as pd

from chouyang.assessment.composite import composite_labels, composite_table
from chouyang.assessment.consequences import consequences, rank
from chouyang.assessment.facts import Entries, ParsedEntries, check_entries, parse_entries
from chouyang.assessment.scheme import ADJUSTMENT_RULES, ITEM_RULES, PERIODS, SIGNS, SOURCES, Rule, Scheme, fmt_points
from chouyang.errors import ChouyangError

__all__ = ["Assessment", "assess", "composite_labels", "computed_scores", "item_points", "township_items", "township_trace"]

ZERO = Decimal(0)
ITEM_COLUMNS = ["township_code", "item", "path", "title", "rule", "fact", "reference", "points", "max", "quote", "note"]
COMPONENT_COLUMNS = ["township_code", "component", "title", "source", "score", "points", "weight", "basis", "quote"]
ADJUSTMENT_COLUMNS = ["township_code", "group", "item", "title", "rule", "amount", "points", "reason", "evidence", "quote"]
CONSEQUENCE_COLUMNS = ["township_code", "consequence", "label", "reason", "quote", "note"]


def item_points(rule: Rule, fact) -> Decimal:
    """Points of one leaf rule for one fact (bool, int, Decimal %, {department: bool}, or entered points)."""
    if rule.default_full:
        return rule.points
    points = _RULE_POINTS.get(rule.kind)
    if points is None:
        raise AssertionError(rule.kind)  # the parser admits only ITEM_RULES
    return points(rule, fact)


def _rate_slope_points(rule: Rule, rate: Decimal) -> Decimal:
    if rule.zero_below is not None and rate < rule.zero_below:
        return ZERO
    if rate >= rule.full_at:
        return rule.points
    short = rule.full_at - rate
    if rule.shortfall == "whole":
        short = short.to_integral_value(rounding=ROUND_FLOOR)
    return max(rule.points - rule.per_point * short, ZERO)


# rule kind -> points for a fact (see the module docstring)
_RULE_POINTS = {
    "yes_no": lambda rule, fact: rule.points if fact else ZERO,
    "per_count": lambda rule, count: min(rule.per * count, rule.points),
    "deduct_per_count": lambda rule, count: max(rule.points - rule.per * count, ZERO),
    "rate_slope": _rate_slope_points,
    "rate_threshold": lambda rule, rate: rule.points if rate >= rule.threshold else ZERO,
    "per_department": lambda rule, answers: rule.per * sum(1 for d in rule.departments if answers.get(d)),
    "entered": lambda rule, points: points,
}


def _fact_text(rule: Rule, fact) -> str:
    if rule.kind == "per_department":
        return "、".join(f"{d}{'是' if fact.get(d) else '否'}" for d in rule.departments)
    if rule.kind == "yes_no":
        value = "是" if fact else "否"
    elif rule.kind in ("rate_slope", "rate_threshold"):
        value = f"{fmt_points(fact)}%"
    else:
        value = fmt_points(Decimal(fact))
    return f"{rule.fact}：{value}"


def _num(value) -> Decimal | None:
    """A survey table value as an exact decimal (None when empty)."""
    if value is None or (isinstance(value, float) and value != value) or value == "":
        return None
    return Decimal(repr(float(value))) if not isinstance(value, (int, Decimal)) else Decimal(value)


@dataclass(frozen=True)
class Assessment:
    scheme_name: str
    scheme_sha256: str
    points: float              # the composite's full marks
    period: str
    townships: pd.DataFrame    # the composite table, best first
    items: pd.DataFrame        # township_code, item, path, title, rule, fact, reference, points, max, quote, note
    components: pd.DataFrame   # township_code, component, title, source, score, points, weight, basis, quote
    adjustments: pd.DataFrame  # township_code, group, item, title, rule, amount, points, reason, evidence, quote
    consequences: pd.DataFrame  # township_code, consequence, label, reason, quote, note
    notes: tuple[str, ...]
    labels: dict[str, str]     # townships table column -> Chinese header


def computed_scores(scheme: Scheme, survey: pd.DataFrame | None) -> dict[str, set[str]]:
    """For each survey or indicator component, the townships whose score the survey gives."""
    survey = _survey_table(survey)
    out: dict[str, set[str]] = {}
    for comp in scheme.components.values():
        if comp.source == "survey":
            out[comp.id] = set(survey.index)
        elif comp.source == "indicator":
            column = survey[comp.column] if comp.column in survey else pd.Series(dtype=float)
            out[comp.id] = {c for c, v in column.items() if _num(v) is not None}
    return out


def _survey_table(survey: pd.DataFrame | None) -> pd.DataFrame:
    if survey is None:
        return pd.DataFrame(columns=["deduction", "deduction_raw"], index=pd.Index([], name="township_code"))
    return survey.assign(township_code=survey.township_code.astype(str)).set_index("township_code")


def assess(scheme: Scheme, townships: pd.DataFrame, entries: Entries, survey: pd.DataFrame | None = None,
           previous: pd.DataFrame | None = None, period: str | None = None, source: str = "录入") -> Assessment:
    """Score every township of `townships` (see the module docstring); raises ChouyangError on bad entries."""
    period = period or scheme.period
    if period not in PERIODS:
        raise ChouyangError(f"考核期应为 {' 或 '.join(PERIODS)}（半年考核或全年考核），不是「{period}」")
    towns = townships[["township_code", "township_name"]].astype(str).drop_duplicates("township_code")
    codes = list(towns.township_code)
    table = _survey_table(survey)
    _check_survey_columns(scheme, table)
    computed = computed_scores(scheme, survey)
    problems = check_entries(scheme, entries, codes, computed, period, source)
    if problems:
        raise ChouyangError("考核录入有错误", problems)
    parsed = parse_entries(scheme, entries, period)

    rows: dict[str, list] = {"items": [], "components": [], "adjustments": []}
    totals = {code: _township_total(scheme, code, parsed, period, table, computed, rows) for code in codes}
    notes = _incomplete_notes(scheme)
    ranks, order = rank(scheme, codes, totals, parsed)
    names = dict(zip(towns.township_code, towns.township_name))
    held, trace = consequences(scheme, codes, names, totals, ranks, order, parsed, previous, notes)
    result = composite_table(scheme, towns, totals, ranks, order, held, computed, set(table.index))
    return Assessment(
        scheme_name=scheme.name, scheme_sha256=scheme.sha256, points=float(scheme.points), period=period, townships=result,
        items=pd.DataFrame(rows["items"], columns=ITEM_COLUMNS),
        components=pd.DataFrame(rows["components"], columns=COMPONENT_COLUMNS),
        adjustments=pd.DataFrame(rows["adjustments"], columns=ADJUSTMENT_COLUMNS),
        consequences=pd.DataFrame(trace, columns=CONSEQUENCE_COLUMNS),
        notes=tuple(notes), labels=composite_labels(scheme))


def _check_survey_columns(scheme: Scheme, table: pd.DataFrame) -> None:
    """A survey table must have every column a survey/indicator component or a survey adjustment reads."""
    needed = {c.column: f"得分组成部分 {c.id}" for c in scheme.components.values() if c.source in ("survey", "indicator")}
    needed.update({a.column: f"加减分条目 {a.id}" for a in scheme.adjustment_items.values() if a.rule == "survey"})
    for column, user in needed.items():
        if len(table) and column not in table:
            raise ChouyangError(f"抽样调查结果中没有「{column}」一列（{user} 需要）")


def _township_total(scheme: Scheme, code: str, parsed: ParsedEntries, period: str, survey: pd.DataFrame,
                    computed: dict[str, set[str]], rows: dict[str, list]) -> dict:
    """One township's component scores, group points, composite, bonus, deduction and total (rows traced)."""
    node_scores = _checklist(scheme, code, parsed, period, rows["items"])
    comp_scores = _components(scheme, code, node_scores, parsed, survey, computed, rows["components"])
    groups = _adjustments(scheme, code, parsed, survey, rows["adjustments"])
    composite = sum((c.weight * comp_scores[c.id] for c in scheme.components.values() if c.parent is None), ZERO)
    bonus = sum((v for g, v in groups.items() if _group(scheme, g).sign == "bonus"), ZERO)
    deduction = sum((v for g, v in groups.items() if _group(scheme, g).sign == "deduction"), ZERO)
    return {"components": comp_scores, "groups": groups, "composite": composite, "bonus": bonus,
            "deduction": deduction, "total": composite + bonus - deduction}


def _incomplete_notes(scheme: Scheme) -> list[str]:
    """What the scheme cannot score: points of an `incomplete` node no child covers."""
    notes = []
    for item in scheme.items.values():
        missing = scheme.missing_points(item.id)
        if item.incomplete and missing:
            notes.append(f"{item.id}「{item.title}」：{item.incomplete}（{fmt_points(missing)} 分无细则，各乡镇均未计分）")
    return notes


def _group(scheme: Scheme, group_id: str):
    return next(g for g in scheme.groups if g.id == group_id)


# --- checklist ------------------------------------------------------------------

def _checklist(scheme: Scheme, code: str, parsed: ParsedEntries, period: str, rows: list) -> dict[str, Decimal]:
    scores: dict[str, Decimal] = defaultdict(Decimal)
    for item in scheme.items.values():
        if item.is_leaf:
            rule = item.rules[period]
            if rule.default_full:
                fact_text = f"{PERIODS[period]}默认满分"
                points = rule.points
            else:
                fact = parsed.facts[(code, item.id)]
                points = item_points(rule, fact)
                fact_text = _fact_text(rule, fact)
            for node in scheme.ancestors(item.id):
                scores[node] += points
            label = ITEM_RULES[rule.kind][0] if not rule.default_full else fact_text
            rows.append({"township_code": code, "item": item.id,
                         "path": scheme.path_title(item.parent) if item.parent else "", "title": item.title,
                         "rule": label, "fact": fact_text, "reference": parsed.references.get((code, item.id), ""),
                         "points": float(points), "max": float(item.points), "quote": rule.quote or item.quote,
                         "note": rule.note or item.note})
        elif item.incomplete and scheme.missing_points(item.id):
            rows.append({"township_code": code, "item": item.id, "path": scheme.path_title(item.id),
                         "title": "原文缺失部分", "rule": "原文缺失，不计分", "fact": "", "reference": "",
                         "points": 0.0, "max": float(scheme.missing_points(item.id)), "quote": item.quote,
                         "note": item.incomplete})
    return scores


# --- components -------------------------------------------------------------------

def _components(scheme: Scheme, code: str, node_scores, parsed: ParsedEntries, survey: pd.DataFrame,
                computed: dict[str, set[str]], rows: list) -> dict[str, Decimal]:
    scores: dict[str, Decimal] = {}

    def score(comp_id: str) -> Decimal:
        comp = scheme.components[comp_id]
        if comp.children:
            value = sum((scheme.components[c].weight * score(c) for c in comp.children), ZERO)
            basis = "下级合计"
        elif comp.source == "checklist":
            raw, full = node_scores[comp.item], scheme.items[comp.item].points
            value = raw * comp.points / full if full and full != comp.points else raw
            basis = f"综合治理清单 {comp.item}：{fmt_points(raw)}/{fmt_points(full)} 分"
        elif comp.source in ("survey", "indicator") and code in computed[comp.id]:
            value, basis = _survey_score(comp, survey.loc[code])
        else:
            value, evidence = parsed.scores[(code, comp.id)]
            basis = ("未抽查，按主要工作数据打分" if comp.source != "entered" else "录入") + \
                (f"：{evidence}" if evidence else "")
        scores[comp_id] = value
        rows.append({"township_code": code, "component": comp.id, "title": comp.title,
                     "source": SOURCES.get(comp.source, "合计"), "score": float(value), "points": float(comp.points),
                     "weight": float(comp.weight), "basis": basis, "quote": comp.quote})
        return value

    for comp in scheme.components.values():
        if comp.parent is None:
            score(comp.id)
    return scores


def _survey_score(comp, row) -> tuple[Decimal, str]:
    if comp.source == "survey":
        deduction = _num(row[comp.column]) or ZERO
        used = min(deduction, comp.cap) if comp.cap is not None else deduction
        capped = f"（上限 {fmt_points(comp.cap)}）" if comp.cap is not None and deduction > comp.cap else ""
        return max(comp.points - used, ZERO), f"抽样调查：满分 {fmt_points(comp.points)} 减扣分 {fmt_points(used)}{capped}"
    value = _num(row[comp.column])
    rate = value * 100 if comp.percent else value
    return item_points(comp.rule, rate), f"修正指标 {comp.column} = {fmt_points(rate)}{'%' if comp.percent else ''}"


# --- bonus and deductions ------------------------------------------------------------

def _adjustments(scheme: Scheme, code: str, parsed: ParsedEntries, survey: pd.DataFrame,
                 rows: list) -> dict[str, Decimal]:
    out = {}
    for group in scheme.groups:
        raw = ZERO
        for a in group.items:
            if a.rule == "survey":
                if code not in survey.index:
                    continue  # not visited: no survey deduction (the composite table says so)
                amount = _num(survey.loc[code, a.column]) or ZERO
                points, reason, evidence = amount, "抽样调查结果", "report/townships.csv"
            elif (code, a.id) in parsed.adjustments:
                amount, reason, evidence = parsed.adjustments[(code, a.id)]
                points = amount * a.points if a.rule in ("fixed", "per_count") else amount * a.factor
            else:
                continue
            raw += points
            rows.append({"township_code": code, "group": group.id, "item": a.id, "title": a.title,
                         "rule": ADJUSTMENT_RULES[a.rule], "amount": float(amount), "points": float(points),
                         "reason": reason, "evidence": evidence, "quote": a.quote})
        capped = min(raw, group.cap) if group.cap is not None else raw
        if raw:
            cap = f"（累计 {fmt_points(raw)}，上限 {fmt_points(group.cap)}）" if capped != raw else ""
            rows.append({"township_code": code, "group": group.id, "item": "", "title": f"{group.title}合计{cap}",
                         "rule": SIGNS[group.sign], "amount": float(raw), "points": float(capped), "reason": "",
                         "evidence": "", "quote": group.quote})
        out[group.id] = capped
    return out


def township_items(assessment: Assessment, township_code: str) -> pd.DataFrame:
    """One township's checklist items, item by item (for its 现场反馈单)."""
    items = assessment.items
    return items[items.township_code == township_code].drop(columns="township_code").reset_index(drop=True)


def township_trace(assessment: Assessment, township_code: str) -> dict[str, pd.DataFrame]:
    """Everything behind one township's total: its items, components, bonus/deductions and consequences."""
    return {name: table[table.township_code == township_code].drop(columns="township_code").reset_index(drop=True)
            for name, table in (("items", assessment.items), ("components", assessment.components),
                                ("adjustments", assessment.adjustments), ("consequences", assessment.consequences))}
