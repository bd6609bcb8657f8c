"""report.pdf and the township feedback sheet (SPEC §3.6), drawn from a ScoreResult and the rules.

The summary page, the ranking table, the deduction and rate charts, the composite
assessment pages and one feedback page (现场反馈单) per township; nothing here reads
the round folder.
"""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd

from chouyang import vocab
from chouyang.assessment.scoring import township_items
from chouyang.atomic import atomic_path
from chouyang.config.rules import COUNTY_RATIOS, KORN_GRAUBARD
from chouyang.errors import ChouyangError
from chouyang.render import report_text
from chouyang.render.pdf import ChinesePDF, data_font, full_font
from chouyang.render.report_text import METRIC_LABELS, RULE_LABELS, cap_text, counted_as, partial_lines
from chouyang.survey import estimate
from chouyang.survey.estimate import RATES
from chouyang.survey.feedback import OPEN, WITHDRAWN
from chouyang.survey.score import ScoreResult
from chouyang.vocab import KIND_LABELS


def report_font(result: ScoreResult, rules):
    """The font cut to every character the report can print (subsetting is cached by character set)."""
    texts = [rules.round.name, *RULE_LABELS.values(), *METRIC_LABELS.values(), *KIND_LABELS.values()]
    tables = [result.townships, result.cases, result.county, result.missing, result.warnings]
    a = result.assessment
    if a is not None:
        tables += [a.townships, a.items, a.components, a.adjustments, a.consequences]
        texts += [a.scheme_name, *a.notes, *a.labels.values()]
    for table in tables:
        if table is not None:
            texts += [v for col in table.columns for v in table[col] if isinstance(v, str)]
    # the wording of every report module (one file until they were split), so the subset keeps every glyph it had
    sources = [__file__, report_text.__file__, Path(__file__).with_name("report.py")]
    # ... and the survey form's column labels, once written in vocab.py, now in its definition
    texts += [*vocab.ENTRY_LABELS.values(), *(label for labels in vocab.REGISTER_LABELS.values() for label in labels.values())]
    return data_font(texts, sources + [vocab.__file__, estimate.__file__])


def write_pdf(result: ScoreResult, rules, path, font=None) -> int:
    """report.pdf; returns its page count."""
    if font is not None:
        return _write_pdf(result, rules, path, font)
    try:
        return _write_pdf(result, rules, path, report_font(result, rules))
    except ChouyangError:  # a character the subset missed: the whole font has it or says which is missing
        return _write_pdf(result, rules, path, full_font())


def _write_pdf(result: ScoreResult, rules, path, font) -> int:
    pdf = ChinesePDF(font=font)
    pdf.set_title(f"{rules.round.name} 抽样调查结果")
    pdf.set_auto_page_break(True, 15)
    table = result.townships.sort_values(["rank", "township_code"])
    county = result.county.set_index("metric")

    pdf.add_page()
    pdf.set_font(size=16)
    pdf.multi_cell(0, 9, rules.round.name, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(size=13)
    pdf.cell(0, 9, "抽样调查结果报告" + ("（部分结果）" if result.partial else ""), align="C",
             new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(size=10.5)
    pdf.ln(3)
    if result.partial:
        pdf.set_text_color(192, 0, 0)
        for line in partial_lines(result):
            pdf.multi_cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
        pdf.set_text_color(0, 0, 0)
        pdf.ln(2)
    bo = county.loc["birth_omission_rate"]
    entered = int(table.points_entered.sum())
    lines = [
        f"调查时限：{rules.round.reference_start} 至 {rules.round.reference_end}；乡镇 {len(table)} 个，"
        f"样本点 {int(table.points.sum())} 个" + (f"（已录入 {entered} 个）" if result.partial else "") + "。",
        f"确认误差 {int(table.cases_confirmed.sum())} 例，待核实 {int(table.cases_pending.sum())} 例（待核实不计分）。",
        f"全县出生漏报率 {_pct(bo.estimate)}（95% 置信区间 {_pct(bo.ci_low)}–{_pct(bo.ci_high)}）；"
        f"出生误差率 {_pct(county.loc['birth_error_rate'].estimate)}；统计误差率 "
        f"{_pct(county.loc['statistical_error_rate'].estimate)}。",
        _estimation_line(county, rules),
        f"扣分规则：确认标准为 {rules.confirmation.min_witnesses} 名以上群众分别反映"
        + ("并经调查组查实" if rules.confirmation.require_verified else "") + f"；{cap_text(rules)}。",
        "乡镇误差率仅以抽中的样本点为条件计算，每乡镇通常只有 2 个样本点，区间很宽，请结合个案理解。",
    ]
    for line in lines:
        pdf.multi_cell(0, 7, line, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    _ranking_table(pdf, table, result.capped)
    if result.warnings is not None and len(result.warnings):
        pdf.set_font(size=10)
        pdf.multi_cell(0, 6, f"需核对（{len(result.warnings)} 处，仍已计入）：" + "；".join(
            f"{w.unit_code} {w.sheet} {w.row} {w.column} {w.value} {w.message}"
            for w in result.warnings.head(30).itertuples()) + ("……（全部见 report.xlsx「需核对」）"
                                                                  if len(result.warnings) > 30 else ""),
                       new_x="LMARGIN", new_y="NEXT")
    pdf.add_page()
    _deduction_chart(pdf, table, float(rules.deductions.cap))
    _rate_chart(pdf, result.county)
    if result.assessment is not None:
        _assessment_pages(pdf, result.assessment)
    elif result.assessment_note:
        pdf.set_font(size=10)
        pdf.multi_cell(0, 6, f"综合考核：{result.assessment_note}。", new_x="LMARGIN", new_y="NEXT")
    for row in table.sort_values("township_code").itertuples():
        _feedback_page(pdf, row, result.cases[result.cases.township_code == row.township_code], rules,
                       result.assessment)
    with atomic_path(Path(path)) as tmp:
        pdf.output(str(tmp))
    return pdf.pages_count


def _estimation_line(county: pd.DataFrame, rules) -> str:
    """Which county estimators the report uses (rules `[estimation]`), with the corrected county births."""
    births = county.loc["corrected_births"]
    return (f"全县修正出生数 {_count(births.estimate)}（95% 置信区间 {_count(births.ci_low)}–{_count(births.ci_high)}），"
            f"按{COUNTY_RATIOS[rules.estimation.county_ratio]}；各乡镇的修正值用本乡镇样本比率。"
            f"全县误差率的区间为 Korn-Graubard 95% 区间（{KORN_GRAUBARD[rules.estimation.korn_graubard]}）。")


def _count(x) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.0f}"


def _pct(x) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{100 * x:.2f}%"


def _ranking_table(pdf, table, capped: bool) -> None:
    pdf.set_font(size=11)
    pdf.cell(0, 8, "乡镇排名", new_x="LMARGIN", new_y="NEXT")
    heads = [("名次", 12), ("乡镇", 36), ("样本点", 14), ("确认", 14), ("待核实", 14), ("扣分", 16),
             ("出生误差率", 24), ("统计误差率", 24), ("评定", 20)]
    _grid(pdf, heads, [["" if pd.isna(r.rank) else str(r.rank), r.township_name,
                        str(r.points) if r.points_entered == r.points else f"{r.points_entered}/{r.points}",
                        str(r.cases_confirmed), str(r.cases_pending), _points(r.deduction, r.deduction_raw),
                        _pct(r.birth_error_rate), _pct(r.statistical_error_rate), r.flag]
                       for r in table.itertuples()])
    pdf.set_font(size=8)
    notes = []
    if capped:
        notes.append("* 已按上限封顶。")
    if (table.status != "完成").any():
        notes.append("「未完成」：该乡镇还有样本点未录入，不参加排名；样本点一栏为「已录入/应调查」。")
    for note in notes:
        pdf.cell(0, 6, note, new_x="LMARGIN", new_y="NEXT")


def _points(deduction, raw) -> str:
    if pd.isna(deduction):
        return "—"
    return f"{deduction:g}" + ("*" if raw > deduction else "")


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
        if pd.isna(r.deduction):
            pdf.set_xy(x0 + 1, y)
            pdf.cell(30, bar, "未录入")
            continue
        if r.deduction > 0:
            pdf.rect(x0, y, r.deduction * scale, bar, style="F")
        pdf.set_xy(x0 + r.deduction * scale + 1, y)
        pdf.cell(20, bar, f"{r.deduction:g}" + ("（未完成）" if r.status != "完成" else ""))
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


def _assessment_pages(pdf, a) -> None:
    """The composite ranking: every township's component scores, bonus, deductions, total, rank, consequence."""
    pdf.add_page()
    pdf.set_font(size=13)
    pdf.cell(0, 9, "综合考核成绩和考核结果", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(size=9)
    pdf.multi_cell(0, 5.5, f"考核方案：{a.scheme_name}（{'半年' if a.period == 'half' else '全年'}考核），"
                           f"满分 {a.points:g} 分；总分 = 综合得分 + 加分 − 减分。", new_x="LMARGIN", new_y="NEXT")
    comps = [c for c in a.labels if c.startswith("c:")]
    width = max(12.0, min(22.0, 80.0 / max(len(comps), 1)))
    heads = ([("名次", 10), ("乡镇", 28)] + [(a.labels[c].split("（")[0][:6], width) for c in comps]
             + [("加分", 12), ("减分", 12), ("总分", 14), ("考核结果", 190 - 38 - width * len(comps) - 38)])
    _grid(pdf, heads, [[str(r["rank"]), r["township_name"]] + [f"{r[c]:g}" for c in comps]
                       + [f"{r['bonus']:g}", f"{r['deduction']:g}", f"{r['total']:g}", r["consequences"]]
                       for r in a.townships.to_dict("records")])
    pdf.set_font(size=8)
    for note in a.notes:
        pdf.multi_cell(0, 5, note, new_x="LMARGIN", new_y="NEXT")


def _feedback_items(pdf, a, code: str) -> None:
    """The township's checklist points item by item, each with its rule and the fact entered."""
    items = township_items(a, code)
    if items.empty:
        return
    pdf.ln(4)
    pdf.set_font(size=11)
    total = items.points.sum()
    pdf.cell(0, 8, f"综合治理考核清单：得分 {total:g} 分（逐项）", new_x="LMARGIN", new_y="NEXT")
    row = a.townships[a.townships.township_code == code].iloc[0]
    pdf.set_font(size=9)
    pdf.multi_cell(0, 5.5, f"综合得分 {row['composite']:g}，加分 {row['bonus']:g}，减分 {row['deduction']:g}，"
                           f"总分 {row['total']:g}，名次 {row['rank']}" + (f"，考核结果：{row['consequences']}"
                                                                          if row["consequences"] else ""),
                   new_x="LMARGIN", new_y="NEXT")
    heads = [("编号", 16), ("项目", 62), ("录入的事实", 56), ("得分", 14), ("分值", 14), ("说明", 28)]
    _grid(pdf, heads, [[r.item, _clip(r.title, 30), _clip(r.fact, 26), f"{r.points:g}", f"{r.max:g}", _clip(r.note, 12)]
                       for r in items.itertuples()])


def _clip(text, n: int) -> str:
    text = "" if text is None or text != text else str(text)
    return text if len(text) <= n else text[:n - 1] + "…"


def write_feedback_pdf(result: ScoreResult, rules, township_code: str, path, font=None) -> int:
    """The 现场反馈单 of one township, on its own (printed from the web workstation's cases page)."""
    pdf = ChinesePDF(font=font or report_font(result, rules))
    pdf.set_title(f"{rules.round.name} 现场反馈单")
    pdf.set_auto_page_break(True, 15)
    town = next(result.townships[result.townships.township_code == township_code].itertuples())
    _feedback_page(pdf, town, result.cases[result.cases.township_code == township_code], rules, result.assessment)
    with atomic_path(Path(path)) as tmp:
        pdf.output(str(tmp))
    return pdf.pages_count


def _feedback_page(pdf, town, cases, rules, assessment=None) -> None:
    pdf.add_page()
    pdf.set_font(size=14)
    pdf.cell(0, 9, "抽样调查结果现场反馈单", align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(size=10)
    pdf.multi_cell(0, 6, rules.round.name, align="C", new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    done = town.points_entered == town.points
    withdrawn = int((cases.status == WITHDRAWN).sum())
    pdf.multi_cell(0, 7, f"乡镇（街道）：{town.township_name}（{town.township_code}）　样本点 {town.points} 个"
                         + ("" if done else f"（已录入 {town.points_entered} 个，未完成）") + "　"
                         f"确认误差 {town.cases_confirmed} 例　待核实 {town.cases_pending} 例　"
                         + (f"撤销 {withdrawn} 例　" if withdrawn else "")
                         + ("扣分 —（未录入）" if pd.isna(town.deduction) else
                            f"扣分 {town.deduction:g}（未封顶 {town.deduction_raw:g}）"),
                   new_x="LMARGIN", new_y="NEXT")
    heads = [("样本点", 28), ("编号", 14), ("类别", 22), ("孩次/手术", 18), ("反映人数", 16), ("查实", 12),
             ("计分", 16), ("反馈", 16), ("扣分规则", 30), ("扣分", 14)]
    _grid(pdf, heads, [[c.unit_code, c.ref, KIND_LABELS[c.kind], c.parity or c.procedure_type, str(c.witnesses),
                        c.verified, counted_as(c), c.status, RULE_LABELS.get(c.rule, c.rule),
                        f"{c.points:g}"] for c in cases.itertuples()],
          empty="本乡镇样本点未发现误差")
    notes = [c for c in cases.itertuples() if c.status == WITHDRAWN or c.status in OPEN]
    if notes:
        pdf.ln(2)
        pdf.set_font(size=8.5)
        pdf.cell(0, 6, "异议和撤销（撤销的个案经复核不成立，不计分、不计入误差率）：", new_x="LMARGIN", new_y="NEXT")
        for c in notes:
            pdf.multi_cell(0, 5, f"{c.unit_code} {c.ref}　{c.status}：{c.status_note}", new_x="LMARGIN", new_y="NEXT")
    if assessment is not None:
        _feedback_items(pdf, assessment, town.township_code)
    pdf.ln(12)
    pdf.cell(0, 8, "调查组长（签字）：______________　　乡镇代表（签字）：______________　　日期：__________",
             new_x="LMARGIN", new_y="NEXT")
