"""Scoring the round: the survey's deductions and estimates, the composite assessment, and the report folder."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from chouyang.assessment.facts import Entries
from chouyang.assessment.scoring import assess
from chouyang.atomic import atomic_folder
from chouyang.entry.ingest import entry_warnings
from chouyang.errors import ChouyangError
from chouyang.render.report import write_csvs, write_pdf, write_xlsx
from chouyang.round.folder import Round
from chouyang.steps.casework import cases
from chouyang.steps.townships import assessment_townships
from chouyang.survey import feedback
from chouyang.survey.score import COMPLETE, WARNING_COLUMNS, ScoreResult, score_data


def _previous_assessment(path: Path | None) -> pd.DataFrame | None:
    """Last year's composite table (for the two-year escalation): a round folder or its report/composite.csv."""
    if path is None:
        return None
    path = Path(path)
    csv_path = path / "report" / "composite.csv" if path.is_dir() else path
    if not csv_path.exists():
        raise ChouyangError(f"找不到上一年度的综合考核结果：{csv_path}（应为上一轮次文件夹或其 report/composite.csv）")
    try:
        return pd.read_csv(csv_path, dtype=str, keep_default_na=False)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise ChouyangError(f"无法读取上一年度的综合考核结果 {csv_path}：{exc}") from None


def _assessment(rnd: Round, result: ScoreResult, partial: bool, previous: Path | None):
    """The composite assessment of every township, or None with the reason (no scheme, nothing entered…)."""
    scheme = rnd.scheme()
    if scheme is None:
        return None, ""
    stored = rnd.assessment_entries()
    if not stored:
        return None, "未录入综合治理考核清单（chouyang checklist），未计算综合考核成绩"
    towns = assessment_townships(rnd)
    missing = [t for t in towns.township_code if t not in stored]
    if missing and not partial:
        raise ChouyangError(f"还有 {len(missing)} 个乡镇的考核清单未录入（如 {'、'.join(missing[:5])}），"
                            "暂不能计算综合考核成绩。如确需先出部分结果，请加 --partial。")
    if missing:
        return None, f"还有 {len(missing)} 个乡镇的考核清单未录入，未计算综合考核成绩"
    if result.partial:
        return None, "抽样调查结果尚未全部录入，未计算综合考核成绩"
    entries = Entries.concat([Entries.from_records(**stored[code]) for code in towns.township_code])
    survey = result.townships[result.townships.status == COMPLETE]
    return assess(scheme, towns, entries, survey=survey, previous=_previous_assessment(previous)), ""


def _entries_or_refuse(rnd: Round, partial: bool) -> dict:
    entries = rnd.entries()
    missing = [u for u in rnd.primaries().unit_code if u not in entries]
    if missing and not partial:
        raise ChouyangError(f"还有 {len(missing)} 个样本点未录入结果（如 {'、'.join(missing[:5])}），"
                            "暂不能计分。可用 chouyang status 查看；如确需先出部分结果，请加 --partial。")
    if not entries:
        raise ChouyangError("本轮还没有录入任何结果")
    return entries


def score_round(rnd: Round, partial: bool = False, previous: Path | None = None) -> ScoreResult:
    """Score the round's entered results, and its composite assessment when a scheme is there (no files written).

    `previous` is last year's round folder (or its report/composite.csv), for the two-year escalation.
    """
    rnd.require_unchanged_since_draw()
    rules = rnd.require_named()
    entries = _entries_or_refuse(rnd, partial)
    register = rnd.load_register()
    found = cases(rnd, rules, register, entries)
    # Withdrawn (撤销) cases count nowhere: their rows are left out of what the correction ratios see.
    result = score_data(rules, rnd.frame(), rnd.sample(), register, feedback.scoring_entries(entries, found), found)
    result.warnings = _warnings_table(register, entries)
    result.assessment, result.assessment_note = _assessment(rnd, result, partial, previous)
    return result


def _warnings_table(register, entries: dict) -> pd.DataFrame:
    """Everything stored with a warning: register rows (as init warned) and entered new rows."""
    rows = [{"unit_code": w.file, "sheet": "", "row": w.row, "column": w.column, "value": w.value,
             "message": w.message} for w in register.warnings]
    for unit, sheets in entries.items():
        rows += entry_warnings(unit, sheets)
    return pd.DataFrame(rows, columns=WARNING_COLUMNS)


def score(rnd: Round, partial: bool = False, previous: Path | None = None, user: str | None = None) -> ScoreResult:
    """Score the round and write report/ as a whole: cases.csv, townships.csv, county.csv, report.xlsx, report.pdf.

    The folder is built beside the old one and swapped in only when every file is written.
    """
    result = score_round(rnd, partial, previous)
    rules = rnd.rules()
    with atomic_folder(rnd.report_dir) as folder:
        write_csvs(result, folder)
        write_xlsx(result, rules, folder / "report.xlsx", draw_record=rnd.draw_record(),
                   replacements=rnd.replacements(), sample=rnd.sample_text(),
                   rules_text=rnd.rules_path.read_text(encoding="utf-8"))
        write_pdf(result, rules, folder / "report.pdf")
    rnd.log("score", {"townships": len(result.townships), "cases_confirmed": int(result.townships.cases_confirmed.sum()),
                      "missing_units": result.missing_units,
                      "deduction_total": float(result.townships.deduction.sum())}, user=user)
    return result
