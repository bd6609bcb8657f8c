"""The report renderer (SPEC §3.6): report/*.csv, report.xlsx and report.pdf from tables.

Everything comes in as arguments (a ScoreResult, the rules, the draw record,
the replacements, sample.csv's text and rules.toml's text); nothing here reads
the round folder.  This module writes the CSVs and the workbook; report.pdf and
the feedback sheet are drawn by render/report_pdf.py, and the wording both share
is in render/report_text.py (the names below are where callers find them).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pandas as pd
from openpyxl import Workbook
from openpyxl.formatting.rule import ColorScaleRule
from openpyxl.styles import Font, PatternFill
from openpyxl.utils import get_column_letter

from chouyang.render.report_pdf import write_feedback_pdf, write_pdf
from chouyang.render.report_text import METRIC_LABELS, RULE_LABELS, cap_text, counted_as, partial_lines
from chouyang.survey.estimate import RATES
from chouyang.survey.score import CASE_OUTPUT_COLUMNS, TOWNSHIP_COLUMNS, ScoreResult
from chouyang.vocab import KIND_LABELS
from chouyang.xlsx import print_setup, save_workbook

__all__ = ["METRIC_LABELS", "RULE_LABELS", "TOWNSHIP_HEADERS", "cap_text", "partial_lines", "write_csvs",
           "write_feedback_pdf", "write_pdf", "write_xlsx"]

TOWNSHIP_HEADERS = [
    ("township_name", "乡镇"), ("township_code", "代码"), ("points", "样本点"), ("cases_confirmed", "确认误差"),
    ("cases_pending", "待核实"), ("deduction_raw", "扣分（未封顶）"), ("deduction", "扣分"),
    ("birth_omission_rate", "出生漏报率"), ("birth_false_rate", "出生虚报率"), ("birth_wrong_rate", "出生错报率"),
    ("birth_error_rate", "出生误差率"), ("woman_missing_rate", "妇女漏档率"), ("iud_false_rate", "上环虚报率"),
    ("sterilisation_false_rate", "结扎虚报率"), ("remedial_false_rate", "补救虚报率"),
    ("statistical_error_rate", "统计误差率"), ("register_births", "出生数"), ("corrected_births", "修正出生数"),
    ("compliance_rate", "符合政策生育率"), ("corrected_compliance_rate", "修正符合政策生育率"),
    ("sex_ratio", "性别比"), ("corrected_sex_ratio", "修正性别比"), ("longacting_rate", "长效措施落实率"),
    ("corrected_longacting_rate", "修正长效措施落实率"), ("rank", "名次"), ("flag", "评定"),
    ("status", "状态"), ("correction_note", "修正说明")]
_PERCENT = {k for k in RATES} | {"compliance_rate", "corrected_compliance_rate", "longacting_rate",
                                 "corrected_longacting_rate"}


def _cell(value):
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if hasattr(value, "item"):  # numpy scalars
        return value.item()
    return value


def write_csvs(result: ScoreResult, folder: Path) -> None:
    """report/cases.csv, townships.csv, county.csv, township_intervals.csv (and missing_units.csv when partial).

    UTF-8 with a byte-order mark: Excel on Chinese Windows opens such a file with the right characters.
    """
    folder.mkdir(parents=True, exist_ok=True)
    fmt = "%.10g"
    csv_args = {"index": False, "na_rep": "", "lineterminator": "\n", "encoding": "utf-8-sig"}
    result.cases[CASE_OUTPUT_COLUMNS].to_csv(folder / "cases.csv", float_format="%g", **csv_args)
    result.townships[TOWNSHIP_COLUMNS + ["flag", "correction_note", "status", "points_entered"]].to_csv(
        folder / "townships.csv", float_format=fmt, **csv_args)
    county = result.county[["metric", "estimate", "ci_low", "ci_high", "method"]]
    if result.partial:
        county = county.assign(method=county.method + f"（部分结果：{len(result.missing_units)} 个样本点未录入）")
    county.to_csv(folder / "county.csv", float_format=fmt, **csv_args)
    result.township_intervals.to_csv(folder / "township_intervals.csv", float_format=fmt, **csv_args)
    if result.partial:
        result.missing.to_csv(folder / "missing_units.csv", **csv_args)
    a = result.assessment
    if a is not None:
        a.townships.rename(columns=_csv_name).to_csv(folder / "composite.csv", float_format=fmt, **csv_args)
        for name in ("items", "components", "adjustments", "consequences"):
            getattr(a, name).to_csv(folder / f"assessment_{name}.csv", float_format=fmt, **csv_args)


def _csv_name(column: str) -> str:
    """composite.csv headers: component and adjustment-group columns spelled out (c:A -> component_A)."""
    return column.replace("c:", "component_", 1).replace("g:", "adjustment_", 1)


_BOLD, _FILL = Font(bold=True), PatternFill("solid", fgColor="DDDDDD")


def write_xlsx(result: ScoreResult, rules, path, *, draw_record: dict, replacements: list[dict],
               sample: pd.DataFrame, rules_text: str) -> None:
    """report.xlsx: townships, cases, county estimates, the draw record with sample.csv, the rules.

    `sample` is sample.csv as text (every column a string) so it is reprinted exactly as written.
    """
    wb = Workbook()
    if result.partial:  # the first sheet says so
        ws = wb.active
        ws.title = "未录入"
        for line in partial_lines(result):
            ws.append([line])
        ws["A1"].font = Font(bold=True, color="C00000", size=12)
        ws.column_dimensions["A"].width = 100
        _township_sheet(wb.create_sheet("乡镇汇总"), result, rules)
    else:
        _township_sheet(wb.active, result, rules)
    _cases_sheet(wb.create_sheet("个案明细"), result)
    _county_sheet(wb.create_sheet("全县估计"), result)
    _draw_sheet(wb.create_sheet("抽样记录"), draw_record, replacements, sample)
    ws = wb.create_sheet("规则")
    for line in rules_text.splitlines():
        ws.append([line])
    ws.column_dimensions["A"].width = 120
    if result.warnings is not None and len(result.warnings):
        _warnings_sheet(wb.create_sheet("需核对"), result.warnings)
    if result.assessment is not None:
        _assessment_sheets(wb, result.assessment)
    for ws in wb.worksheets:
        print_setup(ws, None if ws.title in ("未录入", "抽样记录", "规则") else "1:1")
    save_workbook(wb, path)


ITEM_HEADERS = [("item", "编号"), ("path", "项目"), ("rule", "计分规则"), ("fact", "录入的事实"),
                ("reference", "文件名称或文号"), ("points", "得分"), ("max", "分值"), ("quote", "方案原文"),
                ("note", "说明")]


# the assessment's detail sheets: (sheet, Assessment table, [(column, header)])
_DETAIL_SHEETS = (
    ("考核明细", "items", [("township_code", "乡镇代码")] + ITEM_HEADERS),
    ("加减分明细", "adjustments", [("township_code", "乡镇代码"), ("group", "类别"), ("item", "编号"),
                                 ("title", "项目"), ("rule", "计分"), ("amount", "录入"), ("points", "分数"),
                                 ("reason", "事由"), ("evidence", "证据"), ("quote", "方案原文")]),
    ("考核结果", "consequences", [("township_code", "乡镇代码"), ("label", "考核结果"), ("reason", "依据"),
                                ("quote", "方案原文"), ("note", "说明")]))


def _assessment_sheets(wb, a) -> None:
    """综合考核 (the composite table, every component, weight, bonus, deduction, total, rank, consequence),
    考核明细 (every checklist item of every township), 加减分明细 and 考核结果 (why each consequence)."""
    _composite_sheet(wb.create_sheet("综合考核", 1 if wb.sheetnames[0] == "未录入" else 0), a)
    for title, name, heads in _DETAIL_SHEETS:
        _detail_sheet(wb.create_sheet(title), getattr(a, name), heads)


def _composite_sheet(ws, a) -> None:
    columns = list(a.labels)
    ws.append([a.labels[c] for c in columns])
    for row in a.townships.itertuples(index=False):
        ws.append([_cell(v) for v in row])
    _header_style(ws, [12 if c != "notes" else 40 for c in columns])
    ws.freeze_panes = "C2"
    ws.append([])
    ws.append([f"考核方案：{a.scheme_name}（{'半年' if a.period == 'half' else '全年'}考核），满分 {a.points:g} 分"])
    for note in a.notes:
        ws.append([note])


def _detail_sheet(ws, table: pd.DataFrame, heads: list[tuple[str, str]]) -> None:
    ws.append([label for _, label in heads])
    for row in table.to_dict("records"):
        ws.append([_cell(row[key]) for key, _ in heads])
    _header_style(ws, [30 if key in ("path", "quote", "reason", "title", "evidence") else 12 for key, _ in heads])


def _header_style(ws, widths: list[float]) -> None:
    for j, width in enumerate(widths, start=1):
        ws.cell(1, j).font, ws.cell(1, j).fill = _BOLD, _FILL
        ws.column_dimensions[get_column_letter(j)].width = width


def _warnings_sheet(ws, warnings: pd.DataFrame) -> None:
    """Values stored with a warning (an ID number's check digit), for the office to verify."""
    heads = ["样本点/文件", "工作表", "行", "列", "值", "说明"]
    ws.append(heads)
    for w in warnings.itertuples(index=False):
        ws.append([w.unit_code, w.sheet, str(w.row), w.column, str(w.value), w.message])
    for j, width in enumerate((18, 14, 8, 14, 24, 40), start=1):
        ws.cell(1, j).font, ws.cell(1, j).fill = _BOLD, _FILL
        ws.column_dimensions[get_column_letter(j)].width = width


def _township_sheet(ws, result: ScoreResult, rules) -> None:
    ws.title = "乡镇汇总"
    table = result.townships.sort_values(["rank", "township_code"])
    ws.append([label for _, label in TOWNSHIP_HEADERS])
    for row in table.itertuples(index=False):
        ws.append([_cell(getattr(row, key)) for key, _ in TOWNSHIP_HEADERS])
    for j, (key, _) in enumerate(TOWNSHIP_HEADERS, start=1):
        ws.cell(1, j).font, ws.cell(1, j).fill = _BOLD, _FILL
        ws.column_dimensions[get_column_letter(j)].width = 14 if key != "correction_note" else 40
        if key in _PERCENT:
            for r in range(2, ws.max_row + 1):
                ws.cell(r, j).number_format = "0.00%"
        elif key.startswith("corrected_") or key == "sex_ratio":
            for r in range(2, ws.max_row + 1):
                ws.cell(r, j).number_format = "0.0"
    col = get_column_letter([k for k, _ in TOWNSHIP_HEADERS].index("deduction") + 1)
    ws.conditional_formatting.add(f"{col}2:{col}{ws.max_row}", ColorScaleRule(
        start_type="num", start_value=0, start_color="FFFFFF", end_type="num",
        end_value=float(rules.deductions.cap), end_color="F8696B"))
    ws.freeze_panes = "C2"
    ws.append([])
    ws.append([cap_text(rules)])
    if result.capped:
        ws.append(["「扣分（未封顶）」大于「扣分」的乡镇已按上限封顶。"])


def _cases_sheet(ws, result: ScoreResult) -> None:
    heads = ["乡镇代码", "样本点", "类别", "编号", "孩次", "手术类型", "反映群众人数", "调查组查实", "确认", "扣分规则",
             "扣分", "反馈状态", "说明"]
    ws.append(heads)
    for c in result.cases.itertuples(index=False):
        ws.append([c.township_code, c.unit_code, KIND_LABELS[c.kind], c.ref, c.parity, c.procedure_type,
                   c.witnesses, c.verified, counted_as(c), RULE_LABELS.get(c.rule, c.rule),
                   float(c.points), c.status, c.status_note])
    for j in range(1, len(heads) + 1):
        ws.cell(1, j).font, ws.cell(1, j).fill = _BOLD, _FILL
        ws.column_dimensions[get_column_letter(j)].width = 15


def _county_sheet(ws, result: ScoreResult) -> None:
    ws.append(["指标", "估计值", "95%下限", "95%上限", "方法"])
    for r in result.county.itertuples(index=False):
        ws.append([METRIC_LABELS.get(r.metric, r.metric), _cell(r.estimate), _cell(r.ci_low), _cell(r.ci_high),
                   r.method])
        fmt = "0.00%" if r.metric in _PERCENT or r.metric.replace("corrected_", "") in _PERCENT else "0.0"
        for j in (2, 3, 4):
            ws.cell(ws.max_row, j).number_format = fmt
    for j, w in enumerate((26, 12, 12, 12, 90), start=1):
        ws.cell(1, j).font, ws.cell(1, j).fill = _BOLD, _FILL
        ws.column_dimensions[get_column_letter(j)].width = w


def _draw_sheet(ws, record: dict, replacements: list[dict], sample: pd.DataFrame) -> None:
    for key in ("round_id", "seed", "algorithm", "algorithm_version", "ticket", "method", "frame_sha256",
                "rules_sha256", "fingerprint", "time_utc", "tool_version"):
        ws.append([key, str(record.get(key, ""))])
    ws.append(["commitment", json.dumps(record.get("commitment"), ensure_ascii=False)])
    for rep in replacements:
        ws.append(["replacement", f"{rep['unit_code']} → {rep['replacement']}（{rep['reason']}，{rep['time_utc']}）"])
    ws.append([])
    ws.append(list(sample.columns))
    for row in sample.itertuples(index=False):
        ws.append(list(row))
    ws.column_dimensions["A"].width = 20
    ws.column_dimensions["B"].width = 70
