"""Enter field results (SPEC §2.3, §4): validate filled workbooks against the round (pure).

A filled entry workbook (or a folder of CSV files with the same sheets, read by
forms/workbook.py) is identified by its hidden metadata: a workbook of another
round, another unit or built from another register is refused.  Every problem of
every file is listed (file, sheet, row, column, value, what is wrong).  Storing
(one transaction, the same content twice changes nothing, a different content
needs `replace`) is the ingest step's (steps.py) with the Round's store.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import pandas as pd

from chouyang import vocab
from chouyang.errors import Problem
from chouyang.inputs.readers import ID_CHECK_WARNING, id_problem, mask_id, parse_date
from chouyang.render.survey_workbook import EntryFile
from chouyang.survey.check_rows import UnitChecklist


@dataclass
class ValidUnit:
    unit_code: str
    source: str
    entries: dict[str, list[dict]]  # sheet key -> normalised rows
    warnings: list[Problem] = field(default_factory=list)  # stored anyway (e.g. an ID check digit to verify)

    def content_sha256(self) -> str:
        blob = json.dumps(self.entries, ensure_ascii=False, sort_keys=True).encode("utf-8")
        return hashlib.sha256(blob).hexdigest()


def _norm_int(text: str) -> str | None:
    t = text[:-2] if text.endswith(".0") else text
    return str(int(t)) if t.isdigit() else None


# New rows (漏报出生, 漏档妇女) one sample point may report: more than this is a paste accident, not a finding.
def max_new_rows(register_women: int) -> int:
    return max(30, register_women)


def validate_entry(entry: EntryFile, rules, checklists: dict[str, UnitChecklist], fingerprint: str,
                   register_women: pd.DataFrame) -> tuple[ValidUnit | None, list[Problem]]:
    """Check one filled workbook against the round: its identity, then every row of every sheet."""
    problems = list(entry.problems)
    unit = _check_identity(entry, rules, checklists, fingerprint, problems)
    if unit is None:
        return None, problems
    checklist = checklists[unit]
    if _sizes_refused(entry, checklist, problems) or _looks_unfilled(entry, checklist, problems):
        return None, problems
    checker = _SheetChecker(entry.source, problems)
    out: dict[str, list[dict]] = {}
    for sheet in vocab.CHECK_SHEETS:
        register = checklist.sections.get(sheet)
        if register is not None:
            out[sheet] = _check_sheet_rows(sheet, register, entry.sheets.get(sheet), checker)
    women_ids = set(register_women.loc[register_women.unit_code == unit, "person_id"])
    period = (rules.round.reference_start, rules.round.reference_end)
    for sheet in vocab.MISSED_SHEETS:
        out[sheet] = _missed_sheet_rows(sheet, entry.sheets.get(sheet, []), checker, period, women_ids)
    if problems:
        return None, problems
    return ValidUnit(unit, entry.source, out, checker.warnings), []


def _sizes_refused(entry: EntryFile, checklist: UnitChecklist, problems: list[Problem]) -> bool:
    """Sheets far longer than the register allows are refused with the numbers, before row checks."""
    found = []
    women = checklist.count("women_check")
    for sheet, rows in entry.sheets.items():
        n = len(rows)
        if sheet in vocab.CHECK_SHEETS and n > checklist.count(sheet) + 20:
            found.append(Problem(entry.source, f"有 {n} 行，而本样本点在册只有 {checklist.count(sheet)} 条记录；"
                                               "请检查是否粘贴了其他数据", sheet=vocab.SHEETS[sheet]))
        elif sheet in vocab.MISSED_SHEETS and n > max_new_rows(women):
            found.append(Problem(entry.source, f"新发现 {n} 行，超过上限 {max_new_rows(women)} 行"
                                               f"（本样本点在册育龄妇女 {women} 人）；请检查是否粘贴了其他数据",
                                 sheet=vocab.SHEETS[sheet]))
    problems += found
    return bool(found)


def _looks_unfilled(entry: EntryFile, checklist: UnitChecklist, problems: list[Problem]) -> bool:
    """A workbook with no result entered anywhere gets one message instead of one per register row."""
    registered = sum(checklist.count(s) for s in vocab.CHECK_SHEETS)
    results = sum(bool(values.get("result")) for s in vocab.CHECK_SHEETS for _, values in entry.sheets.get(s) or [])
    new_rows = sum(len(entry.sheets.get(s) or []) for s in vocab.MISSED_SHEETS)
    if registered and not results and not new_rows:
        problems.append(Problem(entry.source, f"工作簿看起来还没有填写：{registered} 条在册记录都没有核实结果，"
                                              "也没有新发现的行。请确认选择的是填好的工作簿"))
        return True
    return False


def _check_identity(entry: EntryFile, rules, checklists: dict, fingerprint: str,
                    problems: list[Problem]) -> str | None:
    """The workbook's unit when its hidden metadata names this round, one of its points and its register."""
    src, meta = entry.source, entry.meta
    if not meta:
        problems.append(Problem(src, "缺少隐藏的元数据（_meta），无法确认轮次和样本点；请使用 chouyang forms 生成的工作簿"))
        return None
    if meta.get("round_id") != rules.round.id:
        problems.append(Problem(src, f"这是另一轮次（{meta.get('round_id')}）的工作簿，本轮次是 {rules.round.id}"))
        return None
    unit = meta.get("unit_code", "")
    if unit not in checklists:
        problems.append(Problem(src, f"样本点 {unit} 不是本轮次的样本点"))
        return None
    if meta.get("register_fingerprint") != fingerprint:
        problems.append(Problem(src, "工作簿是用另一份全员人口信息生成的（登记信息指纹不一致），请重新生成录入工作簿"))
        return None
    return unit


class _SheetChecker:
    """Collects located problems of one workbook (sheet label, row, column label, value)."""

    def __init__(self, source: str, problems: list[Problem]):
        self.source, self.problems = source, problems
        self.warnings: list[Problem] = []

    def __call__(self, sheet: str, row: int | None, key: str | None, message: str, value=None) -> None:
        col = vocab.label_for(sheet, key) if key else None
        if key in ("person_id", "mother_id") and value:
            value = mask_id(str(value))  # messages reach screens and logs: never a whole ID number
        self.problems.append(Problem(self.source, message, row, col, value, sheet=vocab.SHEETS[sheet]))

    def id_number(self, sheet: str, row: int, key: str, pid: str) -> None:
        """An ID number must be well formed; a wrong check digit only warns, as at init (register rows)."""
        problem = id_problem(pid)
        if problem == "id_check":
            self.warnings.append(Problem(self.source, ID_CHECK_WARNING, row, vocab.label_for(sheet, key), mask_id(pid),
                                         sheet=vocab.SHEETS[sheet]))
        elif problem:
            self(sheet, row, key, problem, pid)

    def error_fields(self, sheet: str, row: int, values: dict, clean: dict) -> None:
        """An error row needs 反映群众人数 (an integer >= 0) and 调查组查实 (是/否)."""
        w = _norm_int(values.get("witnesses", ""))
        if w is None:
            self(sheet, row, "witnesses", "误差行必须填写反映群众人数（不小于 0 的整数）", values.get("witnesses"))
        v = values.get("verified", "")
        if v not in vocab.YES_NO:
            self(sheet, row, "verified", "误差行必须填写调查组是否查实（是/否）", v)
        clean.update(witnesses=w or "", verified=v)


def _check_sheet_rows(sheet: str, register: pd.DataFrame, rows, bad: _SheetChecker) -> list[dict]:
    """A check sheet: every register row exactly once, with an allowed result and its details."""
    if rows is None:
        if len(register):
            bad(sheet, None, None, "缺少这张工作表")
        return []
    by_ref = {r["ref"]: r for r in register.to_dict("records")}
    seen: dict[str, int] = {}
    clean_rows = []
    for row, values in rows:
        ref = values.get("ref", "")
        if ref not in by_ref:
            bad(sheet, row, "ref", "编号不在本样本点的在册名单中", ref)
            continue
        if ref in seen:
            bad(sheet, row, "ref", f"编号重复（与第 {seen[ref]} 行相同）", ref)
            continue
        seen[ref] = row
        clean = _check_row(sheet, row, values, by_ref[ref], bad)
        if clean is not None:
            clean_rows.append(clean)
    for ref in by_ref:
        if ref not in seen:
            bad(sheet, None, "ref", f"在册记录 {ref} 没有出现在工作表中（每一条在册记录都必须核对）", ref)
    return sorted(clean_rows, key=lambda r: r["ref"])


def _check_row(sheet: str, row: int, values: dict, reg: dict, bad: _SheetChecker) -> dict | None:
    """One register row's entered result and the columns that go with it (None when unusable)."""
    result = values.get("result", "")
    clean = {"ref": values["ref"], "result": result, "note": values.get("note", "")}
    if not result:
        bad(sheet, row, "result", "未填写")
        return None
    if result not in vocab.RESULTS[sheet]:
        bad(sheet, row, "result", f"不在允许的取值中（{'/'.join(vocab.RESULTS[sheet])}）", result)
        return None
    if sheet == "women_check":
        ac = values.get("actual_contraception", "")
        if ac and ac not in vocab.CONTRACEPTION:
            bad(sheet, row, "actual_contraception", f"不在允许的取值中（{'/'.join(vocab.CONTRACEPTION)}）", ac)
        clean["actual_contraception"] = ac
    if vocab.is_error(sheet, result):
        bad.error_fields(sheet, row, values, clean)
    if sheet == "births_check":
        _validate_true_birth(sheet, row, values, reg, result, clean, bad)
    if sheet == "procedures_check":
        _validate_true_procedure(sheet, row, values, reg, result, clean, bad)
    return clean


def _validate_true_procedure(sheet, row, values, reg, result, clean, bad) -> None:
    tt = values.get("true_type", "")
    if tt and tt not in vocab.PROCEDURE_TYPES:
        bad(sheet, row, "true_type", f"不在允许的取值中（{'/'.join(vocab.PROCEDURE_TYPES)}）", tt)
    elif result == "错报" and (not tt or tt == reg["type"]):
        bad(sheet, row, "true_type", f"错报必须填写与在册（{reg['type']}）不同的实际手术类型", tt)
    clean["true_type"] = tt if result == "错报" else ""


def _missed_sheet_rows(sheet: str, rows, bad: _SheetChecker, period, women_ids: set[str]) -> list[dict]:
    """New rows (漏报出生, 漏档妇女): each is an error case with its own required columns."""
    clean_rows = []
    seen_ids: dict[str, int] = {}
    for row, values in rows:
        clean = {"note": values.get("note", "")}
        if values.get("ref"):
            bad(sheet, row, "ref", "新发现的行编号应留空", values.get("ref"))
        bad.error_fields(sheet, row, values, clean)
        if sheet == "missed_births":
            _validate_missed_birth(sheet, row, values, clean, *period, bad)
        else:
            _validate_missed_woman(sheet, row, values, clean, women_ids, seen_ids, bad)
        clean_rows.append(clean)
    return clean_rows


def _true_date(sheet, row, key: str, text: str, bad):
    """The date written in `key`, or None (a problem when it is written but not a date)."""
    if not text:
        return None
    date = parse_date(text)
    if date is None:
        bad(sheet, row, key, "不是有效日期", text)
    return date


def _true_parity(sheet, row, text: str, bad):
    """The parity written as true_parity, or None (a problem when it is written but not a parity)."""
    if not text:
        return None
    parity = _norm_int(text)
    if parity is None or int(parity) < 1:
        bad(sheet, row, "true_parity", "孩次应为不小于 1 的整数", text)
        return None
    return parity


def _differs_from_register(reg, sex, date, parity) -> bool:
    """Whether any true value written differs from the register's."""
    return bool((sex and sex != reg["sex"]) or (date and date != reg["birth_date"])
                or (parity and int(parity) != int(reg["parity"])))


def _validate_true_birth(sheet, row, values, reg, result, clean, bad) -> None:
    ts, td, tp = values.get("true_sex", ""), values.get("true_birth_date", ""), values.get("true_parity", "")
    if ts and ts not in vocab.SEX:
        bad(sheet, row, "true_sex", "应为 男 或 女", ts)
    date = _true_date(sheet, row, "true_birth_date", td, bad)
    parity = _true_parity(sheet, row, tp, bad)
    if result == "错报" and not _differs_from_register(reg, ts, date, parity):
        bad(sheet, row, "result", "错报必须至少填写一项与在册不同的实际值（实际性别、实际出生日期或实际孩次）")
    keep = result == "错报"
    clean.update(true_sex=ts if keep else "", true_birth_date=date.isoformat() if keep and date else "",
                 true_parity=parity if keep and parity else "")


def _validate_missed_birth(sheet, row, values, clean, start, end, bad) -> None:
    mid, mname = values.get("mother_id", "").upper(), values.get("mother_name", "")
    if not mid and not mname:
        bad(sheet, row, "mother_name", "母亲身份证号和母亲姓名至少填写一项")
    if mid:
        bad.id_number(sheet, row, "mother_id", mid)
    sex = values.get("sex", "")
    if sex not in vocab.SEX:
        bad(sheet, row, "sex", "应为 男 或 女", sex)
    date = parse_date(values.get("birth_date", ""))
    if date is None:
        bad(sheet, row, "birth_date", "不是有效日期", values.get("birth_date"))
    elif not start <= date <= end:
        bad(sheet, row, "birth_date", f"不在调查时限（{start} 至 {end}）内，不能计为漏报", values.get("birth_date"))
    parity = _norm_int(values.get("parity", ""))
    if parity is None or int(parity) < 1:
        bad(sheet, row, "parity", "孩次应为不小于 1 的整数", values.get("parity"))
    policy = values.get("policy", "")
    if policy not in vocab.POLICY:
        bad(sheet, row, "policy", f"应为 {'/'.join(vocab.POLICY)}", policy)
    clean.update(mother_id=mid, mother_name=mname, child_name=values.get("child_name", ""), sex=sex,
                 birth_date=date.isoformat() if date else "", parity=parity or "", policy=policy)


def _validate_missed_woman(sheet, row, values, clean, women_ids, seen_ids, bad) -> None:
    pid = values.get("person_id", "").upper()
    if not pid:
        bad(sheet, row, "person_id", "不能为空")
    elif id_problem(pid) not in (None, "id_check"):
        bad.id_number(sheet, row, "person_id", pid)
    elif pid in women_ids:
        bad(sheet, row, "person_id", "此人已在本样本点的在册名单中，不是漏档", pid)
    elif pid in seen_ids:
        bad(sheet, row, "person_id", f"与第 {seen_ids[pid]} 行重复", pid)
    else:
        bad.id_number(sheet, row, "person_id", pid)  # a wrong check digit: stored, with a warning
    seen_ids[pid] = row
    if not values.get("name"):
        bad(sheet, row, "name", "不能为空")
    date = parse_date(values.get("birth_date", ""))
    if date is None:
        bad(sheet, row, "birth_date", "不是有效日期", values.get("birth_date"))
    ms, cm = values.get("marital_status", ""), values.get("contraception", "")
    if ms not in vocab.MARITAL_STATUS:
        bad(sheet, row, "marital_status", f"应为 {'/'.join(vocab.MARITAL_STATUS)}", ms)
    if cm not in vocab.CONTRACEPTION:
        bad(sheet, row, "contraception", f"应为 {'/'.join(vocab.CONTRACEPTION)}", cm)
    clean.update(person_id=pid, name=values.get("name", ""), birth_date=date.isoformat() if date else "",
                 marital_status=ms, contraception=cm)


def entry_changes(old: dict[str, list[dict]], new: dict[str, list[dict]]) -> list[dict]:
    """Row-by-row differences between stored and new entries (kept in the log on --replace)."""
    changes = []
    for sheet in sorted(set(old) | set(new)):
        a = {vocab.row_key(r, i): r for i, r in enumerate(old.get(sheet, []), start=1)}
        b = {vocab.row_key(r, i): r for i, r in enumerate(new.get(sheet, []), start=1)}
        for key in sorted(set(a) | set(b)):
            if a.get(key) != b.get(key):
                changes.append({"sheet": vocab.SHEETS[sheet], "row": key, "old": a.get(key), "new": b.get(key)})
    return changes


def duplicate_units(valid: list[ValidUnit]) -> list[Problem]:
    """One problem per unit given in more than one file."""
    units = [v.unit_code for v in valid]
    return [Problem("、".join(v.source for v in valid if v.unit_code == code), f"同一个样本点 {code} 给出了多份录入")
            for code in {c for c in units if units.count(c) > 1}]


@dataclass(frozen=True)
class IngestResult:
    unit_code: str
    source: str
    status: str  # new | unchanged | replaced
    confirmed: int
    pending: int
    changes: int = 0
    warnings: tuple[Problem, ...] = ()
    kind: str = "survey"  # survey: a sample point's entry workbook; checklist: a township's assessment facts


def entry_warnings(unit: str, entries: dict[str, list[dict]]) -> list[dict]:
    """Stored new rows whose ID number has a wrong check digit (listed in the report, value masked)."""
    out = []
    for sheet, key in (("missed_births", "mother_id"), ("missed_women", "person_id")):
        for i, row in enumerate(entries.get(sheet, []), start=1):
            if row.get(key) and id_problem(row[key]) == "id_check":
                out.append({"unit_code": unit, "sheet": vocab.SHEETS[sheet], "row": vocab.row_key(row, i),
                            "column": vocab.label_for(sheet, key), "value": mask_id(row[key]),
                            "message": ID_CHECK_WARNING})
    return out


def status_table(primary: pd.DataFrame, plan: pd.DataFrame | None, cases: pd.DataFrame,
                 entered: set[str]) -> pd.DataFrame:
    """One row per primary point: team, township, whether results are in, case counts."""
    primary = primary[["township_code", "township_name", "unit_code", "unit_name"]]
    if plan is not None:
        plan = plan[["unit_code", "team_id", "date"]]
        primary = primary.merge(plan.groupby("unit_code", as_index=False).first(), on="unit_code", how="left")
    else:
        primary = primary.assign(team_id="", date="")
    counts = cases.groupby("unit_code").confirmed.agg(confirmed="sum", total="size")
    primary = primary.merge(counts, left_on="unit_code", right_index=True, how="left").fillna(
        {"confirmed": 0, "total": 0, "team_id": "", "date": ""})
    primary["entered"] = primary.unit_code.isin(entered)
    primary["pending"] = (primary.total - primary.confirmed).astype(int)
    primary["confirmed"] = primary.confirmed.astype(int)
    return primary.drop(columns="total").sort_values(["team_id", "township_code", "unit_code"]).reset_index(drop=True)
