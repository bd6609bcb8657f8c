"""Entering an assessment's facts (issue 13), pure: what each township enters, and checking what was entered.

What to enter comes from the scheme (scheme.py), one table per entry sheet,
ready for a printed checklist or an entry workbook to show:
`fact_fields(scheme, period)` (checklist facts: one row per leaf item, or per
department of a per-department item, with the kind of value, the allowed
values, the evidence the assessor checks and the rule sentence),
`score_fields(scheme)` (component scores entered from elsewhere, and the
"按主要工作数据" scores of townships the survey did not visit),
`adjustment_fields(scheme)` (bonus and deduction items) and `flag_fields(scheme)`
(violations and veto that decide a consequence); they live in entry_fields.py and are
re-exported here.

What was entered is an `Entries`: four long tables of text as typed, with the
columns in ENTRY_COLUMNS (keys) / LABELS (Chinese headers).  Each row may also
carry `source`, `sheet` and `row` (LOCATION_COLUMNS), so every `Problem` of
`check_entries` names the file, sheet, row, column and value.
`parse_entries` turns checked entries into typed values for assessment.py.

Values: 是/否 (vocab.YES_NO) for yes/no facts, departments, fixed adjustments and
flags; whole numbers ≥ 0 for counts; rates in % from 0 to 100 (a trailing "%"
is accepted); scores and entered points as decimal numbers.  A row whose value
is empty or 否/0 adds nothing; a counted bonus or deduction and a raised flag
need a reason and evidence; a "是" on an item marked `reference_required` needs
the document's name or number.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

import pandas as pd

from chouyang import vocab
from chouyang.assessment.entry_fields import adjustment_fields, fact_fields, flag_fields, score_fields
from chouyang.assessment.scheme import FACT_KINDS, PERIODS, SIGNS, Scheme, fmt_points
from chouyang.errors import Problem

# the entry fields are read from here by renderers, entry and the demo
__all__ = ["ENTRY_COLUMNS", "LABELS", "LOCATION_COLUMNS", "SHEETS", "Entries", "ParsedEntries", "adjustment_fields",
           "check_entries", "fact_fields", "flag_fields", "parse_count", "parse_entries", "parse_number", "parse_yes_no",
           "records", "score_fields"]

YES, NO = vocab.YES_NO
ENTRY_COLUMNS = {
    "facts": ["township_code", "item", "part", "value", "reference", "note"],
    "scores": ["township_code", "component", "score", "evidence"],
    "adjustments": ["township_code", "item", "value", "reason", "evidence"],
    "flags": ["township_code", "flag", "value", "reason", "evidence"],
}
LOCATION_COLUMNS = ["source", "sheet", "row"]
SHEETS = {"facts": "综合治理清单", "scores": "录入得分", "adjustments": "加减分", "flags": "否决与违纪"}
LABELS = {
    "township_code": "乡镇代码", "item": "编号", "component": "编号", "flag": "编号", "part": "部门",
    "value": "填报值", "reference": "文件名称或文号", "note": "备注", "score": "得分", "evidence": "证据或依据",
    "reason": "事由",
}


@dataclass(frozen=True)
class Entries:
    """What was entered for one or more townships: four tables of text (ENTRY_COLUMNS, optional LOCATION_COLUMNS)."""

    facts: pd.DataFrame
    scores: pd.DataFrame
    adjustments: pd.DataFrame
    flags: pd.DataFrame

    @classmethod
    def from_records(cls, facts=(), scores=(), adjustments=(), flags=()) -> Entries:
        """Entries from lists of dicts (missing keys are empty text)."""
        tables = {}
        for name, rows in (("facts", facts), ("scores", scores), ("adjustments", adjustments), ("flags", flags)):
            tables[name] = _table(name, list(rows))
        return cls(**tables)

    @classmethod
    def concat(cls, parts: list[Entries]) -> Entries:
        return cls(**{name: pd.concat([_table(name, []), *(getattr(p, name) for p in parts)], ignore_index=True)
                      .fillna("") for name in ENTRY_COLUMNS})


def _table(name: str, rows: list[dict]) -> pd.DataFrame:
    columns = list(ENTRY_COLUMNS[name])
    extra = [c for c in LOCATION_COLUMNS if any(c in r for r in rows)]
    table = pd.DataFrame([{c: r.get(c, "") for c in columns + extra} for r in rows], columns=columns + extra,
                         dtype=object)
    for c in columns + [c for c in extra if c != "row"]:
        table[c] = table[c].map(lambda v: "" if v is None else str(v).strip())
    return table


def records(table: pd.DataFrame) -> list[dict]:
    """Rows as dicts, column by column (pandas' own to_dict walks Arrow strings value by value, 10x slower)."""
    columns = list(table.columns)
    return [dict(zip(columns, values)) for values in zip(*(table[c].tolist() for c in columns))]


# --- reading values -----------------------------------------------------------

def parse_yes_no(text: str) -> bool | None:
    return {YES: True, NO: False}.get(text.strip())


def parse_count(text: str) -> int | None:
    t = text.strip()
    t = t[:-2] if t.endswith(".0") else t
    return int(t) if t.isdigit() else None


def parse_number(text: str, percent: bool = False) -> Decimal | None:
    t = text.strip()
    if percent and t.endswith("%"):
        t = t[:-1].strip()
    try:
        value = Decimal(t)
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


# --- checking what was entered ------------------------------------------------

@dataclass
class _Checker:
    default_source: str
    problems: list

    def bad(self, row: dict, table: str, column: str, message: str, value=None) -> None:
        line = row.get("row", "")
        self.problems.append(Problem(
            file=row.get("source") or self.default_source, message=message,
            row=int(line) if str(line).isdigit() else None, column=LABELS.get(column, column), value=value,
            sheet=row.get("sheet") or SHEETS[table]))

    def missing(self, code: str, table: str, message: str, source: str | None) -> None:
        self.problems.append(Problem(file=source or self.default_source, message=f"乡镇 {code}：{message}",
                                     sheet=SHEETS[table]))


def check_entries(scheme: Scheme, entries: Entries, townships, computed: dict[str, set[str]] | None = None,
                  period: str | None = None, source: str = "录入") -> list[Problem]:
    """Every problem in what was entered for `townships` (codes): each must be complete; none may be foreign.

    `computed` maps a survey or indicator component to the codes whose score the survey gives
    (assessment.computed_scores); every other township needs an entered score for it
    ("按主要工作数据").  `source` names the input when a row carries no `source` of its own.
    """
    period = period or scheme.period
    townships = list(townships)
    wanted, computed = set(townships), computed or {}
    check = _Checker(source, [])
    sources: dict[str, str] = {}
    for name in ENTRY_COLUMNS:
        for row in records(getattr(entries, name)):
            code = row.get("township_code", "")
            if code not in wanted:
                check.bad(row, name, "township_code", "乡镇代码不在本次考核的乡镇名单中", code)
            elif row.get("source"):
                sources.setdefault(code, row["source"])
    _check_facts(scheme, entries.facts, townships, period, check, sources)
    _check_scores(scheme, entries.scores, townships, computed, check, sources)
    _check_adjustments(scheme, entries.adjustments, check)
    _check_flags(scheme, entries.flags, check)
    return check.problems


def _check_facts(scheme, facts, townships, period, check, sources) -> None:
    seen: set[tuple[str, str, str]] = set()
    for row in records(facts):
        _check_fact(scheme, row, period, check, seen)
    fields = list(fact_fields(scheme, period).itertuples())
    for code in townships:
        for field in fields:
            if field.required and (code, field.item, field.part) not in seen:
                part = f"（{field.part}）" if field.part else ""
                check.missing(code, "facts", f"缺少清单条目 {field.item}「{field.title}」{part}的填报",
                              sources.get(code))


def _check_fact(scheme: Scheme, row: dict, period: str, check: _Checker, seen: set[tuple[str, str, str]]) -> None:
    """One checklist row: a leaf item (and department) not entered before, with a value its rule accepts."""
    code, item_id, part, value = row["township_code"], row["item"], row["part"], row["value"]
    item = _fact_item(scheme, row, check)
    if item is None:
        return
    rule = item.rules[period]
    if not _part_fits(rule, row, check):
        return
    key = (code, item_id, part)
    if key in seen:
        check.bad(row, "facts", "item", "同一乡镇的同一条目重复填报", f"{item_id} {part}".strip())
        return
    seen.add(key)
    if rule.default_full:
        if value:
            check.bad(row, "facts", "value", f"{PERIODS[period]}时此项默认为满分，不用填写", value)
        return
    if not value:
        check.bad(row, "facts", "value", f"未填写（{rule.fact}）")
        return
    message = _value_problem(rule.fact_kind, value, rule)
    if message:
        check.bad(row, "facts", "value", message, value)
    elif rule.fact_kind == "yes_no" and item.reference_required and parse_yes_no(value) and not row.get("reference"):
        check.bad(row, "facts", "reference", "此项须有正式文件才计分：请填写文件名称或文号")


def _fact_item(scheme: Scheme, row: dict, check: _Checker):
    """The leaf item a row names, or None (after a problem) for an unknown item or a subtotal."""
    item = scheme.items.get(row["item"])
    if item is None:
        check.bad(row, "facts", "item", "清单中没有这个条目", row["item"])
        return None
    if not item.is_leaf:
        check.bad(row, "facts", "item", "这是分项小计，不能填报，请填写其下的末级条目", row["item"])
        return None
    return item


def _part_fits(rule, row: dict, check: _Checker) -> bool:
    """A per-department item names one of its departments; any other item leaves the department empty."""
    part = row["part"]
    if rule.kind == "per_department" and not rule.default_full:
        if part not in rule.departments:
            check.bad(row, "facts", "part", f"部门应为：{'、'.join(rule.departments)}", part)
            return False
    elif part:
        check.bad(row, "facts", "part", "此条目不分部门，部门一栏应留空", part)
        return False
    return True


def _value_problem(kind: str, value: str, rule) -> str | None:
    if kind == "yes_no":
        return None if parse_yes_no(value) is not None else f"只能填写：{'、'.join(vocab.YES_NO)}"
    if kind == "count":
        n = parse_count(value)
        if n is None:
            return "应为 0 或正整数"
        if rule.max_count is not None and n > rule.max_count:
            return f"不能超过 {rule.max_count}"
        return None
    if kind == "rate":
        r = parse_number(value, percent=True)
        if r is None:
            return "应为比例数字（如 47.5 或 47.5%）"
        return None if 0 <= r <= 100 else "比例应在 0–100（%）之间（超过 100% 请填 100）"
    r = parse_number(value)
    if r is None:
        return "应为数字"
    return None if 0 <= r <= rule.points else f"得分应在 0–{fmt_points(rule.points)} 之间"


def _check_scores(scheme, scores, townships, computed, check, sources) -> None:
    seen: set[tuple[str, str]] = set()
    for row in records(scores):
        _check_score(scheme, row, computed, check, seen)
    filled = {(r["township_code"], r["component"]) for r in records(scores) if r["score"]}
    for code in townships:
        for comp in scheme.components.values():
            if comp.source == "entered" and (code, comp.id) not in filled:
                check.missing(code, "scores", f"缺少「{comp.title}」的得分", sources.get(code))
            elif (comp.source in ("survey", "indicator") and code not in computed.get(comp.id, ())
                  and (code, comp.id) not in filled):
                check.missing(code, "scores", f"未被抽样调查，「{comp.title}」须录入按主要工作数据的得分",
                              sources.get(code))


def _check_score(scheme: Scheme, row: dict, computed: dict[str, set[str]], check: _Checker,
                 seen: set[tuple[str, str]]) -> None:
    """One entered score: a component that takes one, once per township, not for a visited township, in range."""
    code, comp_id, value = row["township_code"], row["component"], row["score"]
    comp = scheme.components.get(comp_id)
    if comp is None or comp.source not in ("entered", "survey", "indicator"):
        check.bad(row, "scores", "component", "没有需要录入得分的这个组成部分", comp_id)
        return
    if (code, comp_id) in seen:
        check.bad(row, "scores", "component", "同一乡镇的同一得分重复录入", comp_id)
        return
    seen.add((code, comp_id))
    if code in computed.get(comp_id, ()):
        if value:
            check.bad(row, "scores", "score", "该乡镇已抽查，此项由抽样调查结果计算，不应录入", value)
        return
    if not value:
        return  # reported below as missing
    number = parse_number(value)
    if number is None:
        check.bad(row, "scores", "score", "应为数字", value)
    elif not 0 <= number <= comp.points:
        check.bad(row, "scores", "score", f"得分应在 0–{fmt_points(comp.points)} 之间", value)
    elif comp.source != "entered" and not row.get("evidence"):
        check.bad(row, "scores", "evidence", "未抽查乡镇按主要工作数据打分：请写明依据的数据")


def _adjustment_amount(a, value: str) -> tuple[Decimal | None, str | None]:
    """The count (fixed: 0/1, per_count) or the points (entered) of an adjustment value, or a problem."""
    if a.rule == "fixed":
        yes = parse_yes_no(value)
        return (None, f"只能填写：{'、'.join(vocab.YES_NO)}") if yes is None else (Decimal(int(yes)), None)
    if a.rule == "per_count":
        n = parse_count(value)
        return (None, "应为 0 或正整数（起数、例数）") if n is None else (Decimal(n), None)
    points = parse_number(value)
    if points is None:
        return None, "应为分值数字"
    if points == 0:
        return points, None
    if (a.min is not None and points < a.min) or (a.max is not None and points > a.max):
        low = fmt_points(a.min) if a.min is not None else "0"
        return None, f"分值应在 {low}–{fmt_points(a.max)} 之间" if a.max is not None else f"分值应不小于 {low}"
    return points, None


def _check_adjustments(scheme, adjustments, check) -> None:
    seen: set[tuple[str, str]] = set()
    counts: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
    later = []
    for row in records(adjustments):
        counted = _check_adjustment(scheme, row, check, seen)
        if counted is not None:
            a, amount = counted
            counts[(row["township_code"], a.id)] = amount
            later.append((row, a, amount))
    for row, a, amount in later:
        if a.requires:
            _check_add_on(scheme, row, a, amount, counts, check)


def _check_adjustment(scheme: Scheme, row: dict, check: _Checker, seen: set[tuple[str, str]]):
    """One bonus/deduction row; (item, amount) when it counts (non-zero), with its reason and evidence checked."""
    code, item_id, value = row["township_code"], row["item"], row["value"]
    a = scheme.adjustment_items.get(item_id)
    if a is None:
        check.bad(row, "adjustments", "item", "没有这个加减分条目", item_id)
        return None
    if a.rule == "survey":
        check.bad(row, "adjustments", "item", "此项由抽样调查结果计算，不应录入", item_id)
        return None
    if (code, item_id) in seen:
        check.bad(row, "adjustments", "item", "同一乡镇的同一加减分条目重复录入", item_id)
        return None
    seen.add((code, item_id))
    if not value:
        return None
    amount, message = _adjustment_amount(a, value)
    if message:
        check.bad(row, "adjustments", "value", message, value)
        return None
    if not amount:
        return None
    for column in ("reason", "evidence"):
        if not row.get(column):
            check.bad(row, "adjustments", column, f"{SIGNS[_sign(scheme, a)]}须写明{LABELS[column]}")
    return a, amount


def _check_add_on(scheme: Scheme, row: dict, a, amount: Decimal, counts: dict[tuple[str, str], Decimal],
                  check: _Checker) -> None:
    """An add-on (加扣) needs the items it requires in the same township, and counts at most theirs."""
    items = scheme.adjustment_items
    base = sum((counts[(row["township_code"], r)] for r in a.requires), Decimal(0))
    names = "、".join(items[r].title for r in a.requires)
    if base == 0:
        check.bad(row, "adjustments", "item", f"加扣须依附于同一乡镇的「{names}」，但该项未录入", a.id)
    elif a.rule == "per_count" and amount > base:
        check.bad(row, "adjustments", "value", f"加扣起数不能多于「{names}」的起数（{fmt_points(base)}）", row["value"])


def _sign(scheme: Scheme, a) -> str:
    return next(g.sign for g in scheme.groups if g.id == a.group)


def _check_flags(scheme, flags, check) -> None:
    seen: set[tuple[str, str]] = set()
    for row in records(flags):
        code, flag_id, value = row["township_code"], row["flag"], row["value"]
        if flag_id not in scheme.flags:
            check.bad(row, "flags", "flag", "没有这个违纪或否决情形", flag_id)
            continue
        if (code, flag_id) in seen:
            check.bad(row, "flags", "flag", "同一乡镇的同一情形重复录入", flag_id)
            continue
        seen.add((code, flag_id))
        if not value:
            continue
        yes = parse_yes_no(value)
        if yes is None:
            check.bad(row, "flags", "value", f"只能填写：{'、'.join(vocab.YES_NO)}", value)
        elif yes:
            for column in ("reason", "evidence"):
                if not row.get(column):
                    check.bad(row, "flags", column, f"认定此情形须写明{LABELS[column]}")


# --- typed values for scoring --------------------------------------------------

@dataclass(frozen=True)
class ParsedEntries:
    """Checked entries as typed values, keyed by township code."""

    facts: dict[tuple[str, str], object]            # (code, item) -> bool | int | Decimal | {department: bool}
    references: dict[tuple[str, str], str]          # (code, item) -> document name or number, note
    scores: dict[tuple[str, str], tuple[Decimal, str]]         # (code, component) -> (score, evidence)
    adjustments: dict[tuple[str, str], tuple[Decimal, str, str]]  # (code, item) -> (count or points, reason, evidence)
    flags: dict[str, list[tuple[str, str, str]]]    # code -> [(flag, reason, evidence)]


def parse_entries(scheme: Scheme, entries: Entries, period: str | None = None) -> ParsedEntries:
    """Typed values of entries that `check_entries` accepted (empty, 否 and 0 rows dropped)."""
    period = period or scheme.period
    facts, references = _parse_facts(scheme, entries.facts, period)
    scores = {(r["township_code"], r["component"]): (parse_number(r["score"]), r.get("evidence", ""))
              for r in records(entries.scores) if r["score"]}
    items = scheme.adjustment_items
    adjustments = {}
    for r in records(entries.adjustments):
        if r["value"]:
            amount, _ = _adjustment_amount(items[r["item"]], r["value"])
            if amount:
                adjustments[(r["township_code"], r["item"])] = (amount, r.get("reason", ""), r.get("evidence", ""))
    flags: dict[str, list[tuple[str, str, str]]] = defaultdict(list)
    for r in records(entries.flags):
        if r["value"] and parse_yes_no(r["value"]):
            flags[r["township_code"]].append((r["flag"], r.get("reason", ""), r.get("evidence", "")))
    return ParsedEntries(facts, references, scores, adjustments, dict(flags))


def _parse_facts(scheme: Scheme, table: pd.DataFrame, period: str):
    """(code, item) -> the fact (a per-department item: {department: bool}), and -> its reference and note."""
    facts: dict[tuple[str, str], object] = {}
    references: dict[tuple[str, str], str] = {}
    for row in records(table):
        code, item_id, value = row["township_code"], row["item"], row["value"]
        rule = scheme.items[item_id].rules[period]
        if rule.default_full or not value:
            continue
        if rule.kind == "per_department":
            facts.setdefault((code, item_id), {})[row["part"]] = parse_yes_no(value)
        else:
            facts[(code, item_id)] = _fact_value(FACT_KINDS[rule.kind], value)
        text = "；".join(t for t in (row.get("reference", ""), row.get("note", "")) if t)
        if text:
            references[(code, item_id)] = text
    return facts, references


def _fact_value(kind: str, value: str):
    if kind == "yes_no":
        return parse_yes_no(value)
    if kind == "count":
        return parse_count(value)
    return parse_number(value, percent=kind == "rate")
