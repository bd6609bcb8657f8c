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

from chouyang.assessment.facts import Entries, ParsedEntries, check_entries, parse_entries
from chouyang.assessment.scheme import ADJUSTMENT_RULES, ITEM_RULES, PERIODS, SIGNS, SOURCES, Rule, Scheme, fmt_points
from chouyang.errors import ChouyangError

ZERO = Decimal(0)
COUNTY_DIGITS = 6  # a township's county is the first 6 digits of its 9-digit code


def item_points(rule: Rule, fact) -> Decimal:
    """Points of one leaf rule for one fact (bool, int, Decimal %, {department: bool}, or entered points)."""
    if rule.default_full:
        return rule.points
    kind = rule.kind
    if kind == "yes_no":
        return rule.points if fact else ZERO
    if kind == "per_count":
        return min(rule.per * fact, rule.points)
    if kind == "deduct_per_count":
        return max(rule.points - rule.per * fact, ZERO)
    if kind == "rate_slope":
        if rule.zero_below is not None and fact < rule.zero_below:
            return ZERO
        if fact >= rule.full_at:
            return rule.points
        short = rule.full_at - fact
        if rule.shortfall == "whole":
            short = short.to_integral_value(rounding=ROUND_FLOOR)
        return max(rule.points - rule.per_point * short, ZERO)
    if kind == "rate_threshold":
        return rule.points if fact >= rule.threshold else ZERO
    if kind == "per_department":
        return rule.per * sum(1 for d in rule.departments if fact.get(d))
    if kind == "entered":
        return fact
    raise AssertionError(kind)  # the parser admits only ITEM_RULES


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
    needed = {c.column: f"得分组成部分 {c.id}" for c in scheme.components.values() if c.source in ("survey", "indicator")}
    needed.update({a.column: f"加减分条目 {a.id}" for a in scheme.adjustment_items.values() if a.rule == "survey"})
    for column, user in needed.items():
        if len(table) and column not in table:
            raise ChouyangError(f"抽样调查结果中没有「{column}」一列（{user} 需要）")
    computed = computed_scores(scheme, survey)
    problems = check_entries(scheme, entries, codes, computed, period, source)
    if problems:
        raise ChouyangError("考核录入有错误", problems)
    parsed = parse_entries(scheme, entries, period)

    item_rows, comp_rows, adj_rows, notes = [], [], [], []
    totals: dict[str, dict] = {}
    for code in codes:
        node_scores = _checklist(scheme, code, parsed, period, item_rows)
        comp_scores = _components(scheme, code, node_scores, parsed, table, computed, comp_rows)
        groups = _adjustments(scheme, code, parsed, table, adj_rows)
        composite = sum((c.weight * comp_scores[c.id] for c in scheme.components.values() if c.parent is None), ZERO)
        bonus = sum((v for g, v in groups.items() if _group(scheme, g).sign == "bonus"), ZERO)
        deduction = sum((v for g, v in groups.items() if _group(scheme, g).sign == "deduction"), ZERO)
        totals[code] = {"components": comp_scores, "groups": groups, "composite": composite, "bonus": bonus,
                        "deduction": deduction, "total": composite + bonus - deduction}
    for item in scheme.items.values():
        missing = scheme.missing_points(item.id)
        if item.incomplete and missing:
            notes.append(f"{item.id}「{item.title}」：{item.incomplete}（{fmt_points(missing)} 分无细则，各乡镇均未计分）")

    ranks, order = _rank(scheme, codes, totals, parsed)
    names = dict(zip(towns.township_code, towns.township_name))
    held, trace = _consequences(scheme, codes, names, totals, ranks, order, parsed, previous, notes)
    result = _composite_table(scheme, towns, totals, ranks, order, held, computed, set(table.index))
    return Assessment(
        scheme_name=scheme.name, scheme_sha256=scheme.sha256, points=float(scheme.points), period=period, townships=result,
        items=pd.DataFrame(item_rows, columns=["township_code", "item", "path", "title", "rule", "fact", "reference",
                                               "points", "max", "quote", "note"]),
        components=pd.DataFrame(comp_rows, columns=["township_code", "component", "title", "source", "score",
                                                    "points", "weight", "basis", "quote"]),
        adjustments=pd.DataFrame(adj_rows, columns=["township_code", "group", "item", "title", "rule", "amount",
                                                    "points", "reason", "evidence", "quote"]),
        consequences=pd.DataFrame(trace, columns=["township_code", "consequence", "label", "reason", "quote", "note"]),
        notes=tuple(notes), labels=composite_labels(scheme))


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


# --- ranking and consequences ------------------------------------------------------------

def _veto_rule(scheme: Scheme):
    return next((c for c in scheme.consequences.values() if c.kind == "veto"), None)


def _flagged(scheme: Scheme, parsed: ParsedEntries, rule_id: str) -> dict[str, list[str]]:
    """Townships with a flag pointing to a consequence rule -> the flags' titles and reasons."""
    out: dict[str, list[str]] = defaultdict(list)
    for code, flags in parsed.flags.items():
        for flag_id, reason, _ in flags:
            flag = scheme.flags[flag_id]
            if flag.consequence == rule_id:
                out[code].append(f"{flag.title}：{reason}" if reason else flag.title)
    return out


def _rank(scheme, codes, totals, parsed):
    veto = _veto_rule(scheme)
    last = set(_flagged(scheme, parsed, veto.id)) if veto is not None and veto.ranks_last else set()

    def key(code):
        t = totals[code]
        return (code in last, -t["total"], *(-t["components"][c] for c in scheme.tiebreak))

    keys = {c: key(c) for c in codes}
    order = sorted(codes, key=lambda c: (keys[c], c))
    ranks = {c: 1 + sum(1 for o in codes if keys[o] < keys[c]) for c in codes}
    return ranks, order


def _consequences(scheme, codes, names, totals, ranks, order, parsed, previous, notes):
    held: dict[str, set[str]] = defaultdict(set)  # rule id -> townships
    reasons: dict[tuple[str, str], str] = {}
    n_all = len(codes)

    def give(rule_id, code, reason):
        held[rule_id].add(code)
        reasons[(rule_id, code)] = reason

    def boundary_note(rule, chosen):
        if rule.n and len(chosen) > rule.n:
            notes.append(f"「{rule.label}」名额 {rule.n} 个，因得分并列共 {len(chosen)} 个乡镇："
                         + "、".join(names[c] for c in sorted(chosen, key=lambda c: (ranks[c], c))))

    rules = scheme.consequences.values()
    veto = _veto_rule(scheme)
    if veto is not None:
        for code, why in _flagged(scheme, parsed, veto.id).items():
            give(veto.id, code, "；".join(why))
    overall_bottom = [r for r in rules if r.kind == "bottom" and r.component is None]
    for rule in overall_bottom:
        worse = {c: sum(1 for o in codes if ranks[o] > ranks[c]) for c in codes}
        chosen = {c for c in codes if worse[c] < rule.n}
        boundary_note(rule, chosen)
        for c in chosen:
            give(rule.id, c, f"综合排名第 {ranks[c]} 名（共 {n_all} 个，后 {rule.n} 名）")
        for code, why in _flagged(scheme, parsed, rule.id).items():
            if code not in held[rule.id]:
                give(rule.id, code, "；".join(why))
    barred = set(held[veto.id]) if veto is not None else set()
    for rule in overall_bottom:
        barred |= held[rule.id]
    for rule in (r for r in rules if r.kind in ("top", "bottom") and r.component is not None):
        value = {c: totals[c]["components"][rule.component] for c in codes}
        title = scheme.components[rule.component].title
        if rule.kind == "bottom":
            chosen = {c for c in codes if sum(1 for o in codes if value[o] < value[c]) < rule.n}
            where = "后"
        else:
            pool = [c for c in codes if c not in barred]
            chosen = {c for c in pool if sum(1 for o in pool if value[o] > value[c]) < rule.n}
            where = "前"
        boundary_note(rule, chosen)
        for c in chosen:
            give(rule.id, c, f"「{title}」得分 {fmt_points(value[c])}（{where} {rule.n} 名）")
    for rule in (r for r in rules if r.kind == "top" and r.component is None):
        pool = [c for c in codes if c not in barred]
        chosen = {c for c in pool if sum(1 for o in pool if ranks[o] < ranks[c]) < rule.n}
        boundary_note(rule, chosen)
        for c in chosen:
            give(rule.id, c, f"综合排名第 {ranks[c]} 名（前 {rule.n} 名）")
        for c in sorted(barred, key=lambda c: (ranks[c], c)):
            if ranks[c] <= rule.n:
                notes.append(f"{names[c]} 综合排名第 {ranks[c]} 名，但因{_labels_of(scheme, held, c)}不能评为"
                             f"「{rule.label}」，名额顺延")
    for rule in (r for r in rules if r.kind == "county_last"):
        counties: dict[str, list[str]] = defaultdict(list)
        for c in order:
            counties[c[:COUNTY_DIGITS]].append(c)
        for county, members in counties.items():
            skipped = set().union(*(held[s] for s in rule.skip)) if rule.skip else set()
            for rank in sorted({ranks[c] for c in members}, reverse=True):
                group = [c for c in members if ranks[c] == rank and c not in skipped]
                if group:
                    passed = any(ranks[c] > rank for c in members)
                    for c in group:
                        give(rule.id, c, f"县（市、区）{county} 内排名最后" + ("（最后一名已列入"
                             + "、".join(scheme.consequences[s].label for s in rule.skip) + "，往后顺延）"
                             if passed else ""))
                    if len(group) > 1:
                        notes.append(f"「{rule.label}」：县（市、区）{county} 并列 {len(group)} 个乡镇："
                                     + "、".join(names[c] for c in group))
                    break
    last_year = _previous_labels(previous)
    for rule in (r for r in rules if r.kind == "repeat"):
        for c in sorted(held[rule.current]):
            if rule.previous not in last_year.get(c, set()):
                continue
            why = f"连续两年列为「{rule.previous}」"
            if rule.becomes is not None:
                held[rule.current].discard(c)
                give(rule.becomes, c, why)
            else:
                give(rule.id, c, why)
    trace = []
    for rule in rules:
        for c in sorted(held[rule.id], key=lambda c: (ranks[c], c)):
            trace.append({"township_code": c, "consequence": rule.id, "label": rule.label,
                          "reason": reasons[(rule.id, c)], "quote": rule.quote, "note": rule.note})
    return held, trace


def _labels_of(scheme, held, code) -> str:
    return "、".join(r.label for r in scheme.consequences.values() if code in held[r.id])


def _previous_labels(previous: pd.DataFrame | None) -> dict[str, set[str]]:
    """Consequence labels per township of the previous year's composite table (labels joined by 、)."""
    if previous is None:
        return {}
    missing = [c for c in ("township_code", "consequences") if c not in previous]
    if missing:
        raise ChouyangError(f"上一年度的考核结果缺少列：{'、'.join(missing)}")
    return {str(r.township_code): {x for x in str(r.consequences if r.consequences == r.consequences else "")
                                   .split("、") if x}
            for r in previous.itertuples()}


# --- tables for the report -------------------------------------------------------------

def composite_labels(scheme: Scheme) -> dict[str, str]:
    """Chinese headers of the composite table's columns."""
    labels = {"township_code": "乡镇代码", "township_name": "乡镇名称", "county": "县（市、区）"}
    for comp in scheme.components.values():
        weight = f"×{fmt_points(comp.weight * 100)}%" if comp.weight != 1 else ""
        labels[f"c:{comp.id}"] = f"{comp.title}（{fmt_points(comp.points)}分{weight}）"
    labels["composite"] = f"综合得分（{fmt_points(scheme.points)}分）"
    for group in scheme.groups:
        cap = f"，上限{fmt_points(group.cap)}分" if group.cap is not None else ""
        labels[f"g:{group.id}"] = f"{group.title}（{SIGNS[group.sign]}{cap}）"
    labels.update({"bonus": "加分合计", "deduction": "减分合计", "total": "总分", "rank": "名次",
                   "consequences": "考核结果", "notes": "说明"})
    return labels


def _composite_table(scheme, towns, totals, ranks, order, held, computed, visited) -> pd.DataFrame:
    names = dict(zip(towns.township_code, towns.township_name))
    not_visited = defaultdict(list)
    for comp in scheme.components.values():
        if comp.source in ("survey", "indicator"):
            for code in names:
                if code not in computed[comp.id]:
                    not_visited[code].append(comp.title)
    survey_adjustments = [a.title for a in scheme.adjustment_items.values() if a.rule == "survey"]
    rows = []
    for code in order:
        t = totals[code]
        row = {"township_code": code, "township_name": names[code], "county": code[:COUNTY_DIGITS]}
        for comp in scheme.components.values():
            row[f"c:{comp.id}"] = float(t["components"][comp.id])
        row["composite"] = float(t["composite"])
        for group in scheme.groups:
            row[f"g:{group.id}"] = float(t["groups"][group.id])
        labels = [r.label for r in scheme.consequences.values() if code in held[r.id]]
        note = [f"未抽查，{'、'.join(not_visited[code])}按主要工作数据打分"] if not_visited[code] else []
        if survey_adjustments and code not in visited:
            note.append("未抽查，抽样调查扣分按 0 计")
        tied = [names[o] for o in order if o != code and ranks[o] == ranks[code]]
        if tied:
            note.append(f"与{'、'.join(tied)}并列")
        row.update({"bonus": float(t["bonus"]), "deduction": float(t["deduction"]), "total": float(t["total"]),
                    "rank": ranks[code], "consequences": "、".join(labels), "notes": "；".join(note)})
        rows.append(row)
    return pd.DataFrame(rows, columns=list(composite_labels(scheme)))


def township_items(assessment: Assessment, township_code: str) -> pd.DataFrame:
    """One township's checklist items, item by item (for its 现场反馈单)."""
    items = assessment.items
    return items[items.township_code == township_code].drop(columns="township_code").reset_index(drop=True)


def township_trace(assessment: Assessment, township_code: str) -> dict[str, pd.DataFrame]:
    """Everything behind one township's total: its items, components, bonus/deductions and consequences."""
    return {name: table[table.township_code == township_code].drop(columns="township_code").reset_index(drop=True)
            for name, table in (("items", assessment.items), ("components", assessment.components),
                                ("adjustments", assessment.adjustments), ("consequences", assessment.consequences))}
