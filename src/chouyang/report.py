"""The report renderer (SPEC §3.6): report/*.csv, report.xlsx and report.pdf from tables.

Everything comes in as arguments (a ScoreResult, the rules, the draw record,
the replacements, sample.csv's text and rules.toml's text); nothing here reads
the round folder.
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

from .estimate import RATES
from .feedback import OPEN, WITHDRAWN
from .pdf import ChinesePDF
from .score import TOWNSHIP_COLUMNS, ScoreResult
from .vocab import KIND_LABELS

RULE_LABELS = {"birth_parity_1_2": "一、二孩错漏", "birth_parity_3plus": "多孩错漏", "iud_false_or_wrong": "上环虚报、错报",
               "sterilisation_false_or_wrong": "结扎虚报、错报", "remedial_false": "补救措施虚报",
               "remedial_wrong": "补救措施错报", "removal_false_or_wrong": "取环虚报、错报",
               "eligibility_error": "资格确认和资金发放误差", "woman_missing": "育龄妇女漏档", "woman_false": "育龄妇女查无此人"}
METRIC_LABELS = {**{k: v[2] for k, v in RATES.items()}, "register_births": "出生数（全员）",
                 "compliance_rate": "符合政策生育率（全员）", "sex_ratio": "出生人口性别比（全员）",
                 "longacting_rate": "长效节育措施落实率（全员）", "corrected_births": "出生数（修正）",
                 "corrected_compliance_rate": "符合政策生育率（修正）", "corrected_sex_ratio": "出生人口性别比（修正）",
                 "corrected_longacting_rate": "长效节育措施落实率（修正）"}
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
    ("correction_note", "修正说明")]
_PERCENT = {k for k in RATES} | {"compliance_rate", "corrected_compliance_rate", "longacting_rate",
                                 "corrected_longacting_rate"}


def _cell(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def write_csvs(result: ScoreResult, folder: Path) -> None:
    """report/cases.csv, townships.csv, county.csv and township_intervals.csv."""
    folder.mkdir(parents=True, exist_ok=True)
    fmt = "%.10g"
    result.cases.to_csv(folder / "cases.csv", index=False, float_format="%g", lineterminator="\n")
    result.townships[TOWNSHIP_COLUMNS + ["flag", "correction_note"]].to_csv(
        folder / "townships.csv", index=False, na_rep="", float_format=fmt, lineterminator="\n")
    result.county[["metric", "estimate", "ci_low", "ci_high", "method"]].to_csv(
        folder / "county.csv", index=False, na_rep="", float_format=fmt, lineterminator="\n")
    result.township_intervals.to_csv(folder / "township_intervals.csv", index=False, na_rep="",
                                     float_format=fmt, lineterminator="\n")


_BOLD, _FILL = Font(bold=True), PatternFill("solid", fgColor="DDDDDD")


def write_xlsx(result: ScoreResult, rules, path, *, draw_record: dict, replacements: list[dict],
               sample: pd.DataFrame, rules_text: str) -> None:
    """report.xlsx: townships, cases, county estimates, the draw record with sample.csv, the rules.

    `sample` is sample.csv as text (every column a string) so it is reprinted exactly as written.
    """
    wb = Workbook()
    _township_sheet(wb.active, result, rules)
    _cases_sheet(wb.create_sheet("个案明细"), result)
    _county_sheet(wb.create_sheet("全县估计"), result)
    _draw_sheet(wb.create_sheet("抽样记录"), draw_record, replacements, sample)
    ws = wb.create_sheet("规则")
    for line in rules_text.splitlines():
        ws.append([line])
    ws.column_dimensions["A"].width = 120
    wb.save(path)


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


def _counted(case) -> str:
    """How a case counts: 确认, 待核实, or 撤销 (withdrawn after a re-check: counts nowhere)."""
    if getattr(case, "status", "") == WITHDRAWN:
        return "撤销"
    return "确认" if case.confirmed else "待核实"


def _cases_sheet(ws, result: ScoreResult) -> None:
    heads = ["乡镇代码", "样本点", "类别", "编号", "孩次", "手术类型", "反映群众人数", "调查组查实", "确认", "扣分规则",
             "扣分", "反馈状态", "说明"]
    ws.append(heads)
    for c in result.cases.itertuples(index=False):
        ws.append([c.township_code, c.unit_code, KIND_LABELS[c.kind], c.ref, c.parity, c.procedure_type,
                   c.witnesses, c.verified, _counted(c), RULE_LABELS.get(c.rule, c.rule),
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


def write_pdf(result: ScoreResult, rules, path, font=None) -> int:
    pdf = ChinesePDF(font=font)
    pdf.set_title(f"{rules.round.name} 抽样调查结果")
    pdf.set_auto_page_break(True, 15)
    table = result.townships.sort_values(["rank", "township_code"])
    county = result.county.set_index("metric")

    pdf.add_page()
    pdf.set_font(size=16)
    pdf.multi_cell(0, 9, rules.round.name, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(size=13)
    pdf.cell(0, 9, "抽样调查结果报告", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(size=10.5)
    pdf.ln(3)
    bo = county.loc["birth_omission_rate"]
    lines = [
        f"调查时限：{rules.round.reference_start} 至 {rules.round.reference_end}；乡镇 {len(table)} 个，"
        f"样本点 {int(table.points.sum())} 个。",
        f"确认误差 {int(table.cases_confirmed.sum())} 例，待核实 {int(table.cases_pending.sum())} 例（待核实不计分）。",
        f"全县出生漏报率 {_pct(bo.estimate)}（95% 置信区间 {_pct(bo.ci_low)}–{_pct(bo.ci_high)}）；"
        f"出生误差率 {_pct(county.loc['birth_error_rate'].estimate)}；统计误差率 "
        f"{_pct(county.loc['statistical_error_rate'].estimate)}。",
        f"扣分规则：确认标准为 {rules.confirmation.min_witnesses} 名以上群众分别反映"
        + ("并经调查组查实" if rules.confirmation.require_verified else "") + f"；累计扣分不超过 {rules.deductions.cap:g} 分。",
        "乡镇误差率仅以抽中的样本点为条件计算，每乡镇通常只有 2 个样本点，区间很宽，请结合个案理解。",
    ]
    for line in lines:
        pdf.multi_cell(0, 7, line, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    _ranking_table(pdf, table)
    pdf.add_page()
    _deduction_chart(pdf, table, float(rules.deductions.cap))
    _rate_chart(pdf, result.county)
    for row in table.sort_values("township_code").itertuples():
        _feedback_page(pdf, row, result.cases[result.cases.township_code == row.township_code], rules)
    pdf.output(str(path))
    return pdf.pages_count


def _pct(x) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.2f}%"


def _ranking_table(pdf, table) -> None:
    pdf.set_font(size=11)
    pdf.cell(0, 8, "乡镇排名", new_x="LMARGIN", new_y="NEXT")
    heads = [("名次", 12), ("乡镇", 36), ("样本点", 14), ("确认", 14), ("待核实", 14), ("扣分", 16),
             ("出生误差率", 24), ("统计误差率", 24), ("评定", 20)]
    _grid(pdf, heads, [[str(r.rank), r.township_name, str(r.points), str(r.cases_confirmed),
                        str(r.cases_pending), f"{r.deduction:g}" + ("*" if r.deduction_raw > r.deduction else ""),
                        _pct(r.birth_error_rate), _pct(r.statistical_error_rate), r.flag]
                       for r in table.itertuples()])
    pdf.set_font(size=8)
    pdf.cell(0, 6, "* 已按上限封顶。", new_x="LMARGIN", new_y="NEXT")


def _grid(pdf, heads: list[tuple[str, float]], rows: list[list[str]], empty: str = "") -> None:
    """A bordered table: grey header row, then one 6.5 mm row per item (or one `empty` row)."""
    pdf.set_font(size=8.5)
    pdf.set_fill_color(225, 225, 225)
    for h, w in heads:
        pdf.cell(w, 7, h, border=1, align="C", fill=True)
    pdf.ln()
    if not rows and empty:
        pdf.cell(sum(w for _, w in heads), 7, empty, border=1, align="C")
        pdf.ln()
    for values in rows:
        for (_, w), v in zip(heads, values):
            pdf.cell(w, 6.5, str(v), border=1, align="C")
        pdf.ln()


def _deduction_chart(pdf, table, cap: float) -> None:
    pdf.set_font(size=11)
    pdf.cell(0, 8, "各乡镇扣分（确认误差，封顶后）", new_x="LMARGIN", new_y="NEXT")
    x0, y0, width = 45.0, pdf.get_y() + 2, 140.0
    scale = width / max(cap, float(table.deduction.max() or 1))
    pdf.set_font(size=7.5)
    bar = 4.2
    for i, r in enumerate(table.sort_values("township_code").itertuples()):
        y = y0 + i * (bar + 1.2)
        pdf.set_xy(10, y)
        pdf.cell(x0 - 12, bar, r.township_name, align="R")
        pdf.set_fill_color(220, 90, 80) if r.deduction_raw > r.deduction else pdf.set_fill_color(90, 130, 200)
        if r.deduction > 0:
            pdf.rect(x0, y, r.deduction * scale, bar, style="F")
        pdf.set_xy(x0 + r.deduction * scale + 1, y)
        pdf.cell(20, bar, f"{r.deduction:g}")
    pdf.set_draw_color(150, 150, 150)
    pdf.line(x0 + cap * scale, y0 - 1, x0 + cap * scale, y0 + len(table) * (bar + 1.2))
    pdf.set_draw_color(0, 0, 0)
    pdf.set_y(y0 + len(table) * (bar + 1.2) + 2)
    pdf.cell(0, 6, f"竖线为扣分上限 {cap:g} 分；红色为已封顶。", new_x="LMARGIN", new_y="NEXT")


def _rate_chart(pdf, county) -> None:
    rates = county[county.metric.isin(list(RATES))]
    pdf.ln(3)
    pdf.set_font(size=11)
    pdf.cell(0, 8, "全县误差率估计及 95% 置信区间", new_x="LMARGIN", new_y="NEXT")
    x0, y0, width = 60.0, pdf.get_y() + 2, 110.0
    top = max(float(rates.ci_high.max(skipna=True) or 0.01), 0.01)
    scale = width / top
    pdf.set_font(size=7.5)
    for i, r in enumerate(rates.itertuples()):
        y = y0 + i * 7
        pdf.set_xy(10, y)
        pdf.cell(x0 - 12, 5, METRIC_LABELS[r.metric], align="R")
        if not math.isnan(r.estimate):
            pdf.set_fill_color(90, 130, 200)
            pdf.rect(x0 + r.estimate * scale - 1, y + 1.5, 2, 2, style="F")
            pdf.line(x0 + r.ci_low * scale, y + 2.5, x0 + r.ci_high * scale, y + 2.5)
            pdf.set_xy(x0 + width + 2, y)
            pdf.cell(40, 5, f"{_pct(r.estimate)}（{_pct(r.ci_low)}–{_pct(r.ci_high)}）")
    pdf.line(x0, y0 + len(rates) * 7, x0 + width, y0 + len(rates) * 7)
    pdf.set_y(y0 + len(rates) * 7 + 2)
    pdf.set_xy(x0 - 2, pdf.get_y())
    pdf.cell(10, 5, "0")
    pdf.set_xy(x0 + width - 8, pdf.get_y())
    pdf.cell(10, 5, _pct(top))


def write_feedback_pdf(result: ScoreResult, rules, township_code: str, path, font=None) -> int:
    """The 现场反馈单 of one township, on its own (printed from the web workstation's cases page)."""
    pdf = ChinesePDF(font=font)
    pdf.set_title(f"{rules.round.name} 现场反馈单")
    pdf.set_auto_page_break(True, 15)
    town = next(result.townships[result.townships.township_code == township_code].itertuples())
    _feedback_page(pdf, town, result.cases[result.cases.township_code == township_code], rules)
    pdf.output(str(path))
    return pdf.pages_count


def _feedback_page(pdf, town, cases, rules) -> None:
    pdf.add_page()
    pdf.set_font(size=14)
    pdf.cell(0, 9, "抽样调查结果现场反馈单", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(size=10)
    pdf.multi_cell(0, 6, rules.round.name, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    withdrawn = int((cases.status == WITHDRAWN).sum())
    pdf.cell(0, 7, f"乡镇（街道）：{town.township_name}（{town.township_code}）　样本点 {town.points} 个　"
                   f"确认误差 {town.cases_confirmed} 例　待核实 {town.cases_pending} 例　"
                   + (f"撤销 {withdrawn} 例　" if withdrawn else "")
                   + f"扣分 {town.deduction:g}（未封顶 {town.deduction_raw:g}）", new_x="LMARGIN", new_y="NEXT")
    heads = [("样本点", 28), ("编号", 14), ("类别", 22), ("孩次/手术", 18), ("反映人数", 16), ("查实", 12),
             ("计分", 16), ("反馈", 16), ("扣分规则", 30), ("扣分", 14)]
    _grid(pdf, heads, [[c.unit_code, c.ref, KIND_LABELS[c.kind], c.parity or c.procedure_type, str(c.witnesses),
                        c.verified, _counted(c), c.status, RULE_LABELS.get(c.rule, c.rule),
                        f"{c.points:g}"] for c in cases.itertuples()],
          empty="本乡镇样本点未发现误差")
    notes = [c for c in cases.itertuples() if c.status == WITHDRAWN or c.status in OPEN]
    if notes:
        pdf.ln(2)
        pdf.set_font(size=8.5)
        pdf.cell(0, 6, "异议和撤销（撤销的个案经复核不成立，不计分、不计入误差率）：", new_x="LMARGIN", new_y="NEXT")
        for c in notes:
            pdf.multi_cell(0, 5, f"{c.unit_code} {c.ref}　{c.status}：{c.status_note}", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(12)
    pdf.cell(0, 8, "调查组长（签字）：______________　　乡镇代表（签字）：______________　　日期：__________",
             new_x="LMARGIN", new_y="NEXT")
