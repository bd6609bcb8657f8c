"""The entry workbook of any instrument: written for one subject, read back as a validated Response (issue 18).

Sheets (`workbook_plan`): the questions outside any repeat, one sheet per top-level section (fields
outside any group on a sheet of their own), one question per row (字段 | 题号 | 题目 | 回答 | 说明);
and one sheet per repeat, one row per register record / blank row / fixed item, one column per
field (Chinese labels as headers; the English names are accepted back as headers too).
Answer cells are unlocked, with drop-downs from the choice lists (labels; codes are accepted back),
whole-number and date validations; prefilled cells are locked (sheet protection without password,
as the survey workbook); a very hidden `_meta` sheet names round, unit, instrument and version.
Every cell is written as text or a number, never a formula from data (xlsx.save_workbook), and a
formula found in a filled workbook is read as its text, never evaluated.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import openpyxl
from openpyxl import Workbook
from openpyxl.styles import Alignment, Font, PatternFill, Protection
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation

from chouyang import __version__
from chouyang.errors import ChouyangError, Problem
from chouyang.inputs.tables import _cell_text
from chouyang.instruments.model import ROWS_BLANK, Field, Instrument
from chouyang.instruments.responses import Place, Response, validate
from chouyang.render.instrument_items import condition_text, integer_range, table_for
from chouyang.render.instrument_pdf import table_rows
from chouyang.render.instrument_read import WorkbookReader
from chouyang.render.instrument_sheets import (
    FIRST_ROW,
    HEADER_ROW,
    QUESTION_COLUMNS,
    SheetPlan,
    question_row,
    table_columns,
    workbook_plan,
)
from chouyang.xlsx import META_SHEET, open_for_reading, print_setup, read_meta, save_workbook, sheet_named

MAX_ROWS = 5000
_UNLOCKED = Protection(locked=False)
_HEADER_FILL = PatternFill("solid", fgColor="DDDDDD")
_ENTRY_FILL = PatternFill("solid", fgColor="FFF9E0")
_EXCEL_1900, _EXCEL_2100 = 1, 73415   # serials of 1900-01-01 and 2100-12-31


# --- writing ------------------------------------------------------------------------------------

def _list_validation(instrument: Instrument, f: Field) -> DataValidation | None:
    cl = instrument.choice_list(f)
    if f.type != "select_one" or cl is None:
        return None
    labels = [c.label for c in cl.choices]
    if any("," in v or '"' in v for v in labels) or len(",".join(labels)) > 250:
        return None   # Excel's inline list cannot hold them; validation at ingest still applies
    dv = DataValidation(type="list", formula1='"' + ",".join(labels) + '"', allow_blank=True)
    dv.error = f"只能填写：{'、'.join(labels)}"
    return dv


def _number_validation(f: Field) -> DataValidation | None:
    if f.type == "integer":
        low, high = integer_range(f.constraint) or (-10 ** 9, 10 ** 9)
        dv = DataValidation(type="whole", operator="between", formula1=str(low), formula2=str(high), allow_blank=True)
        dv.error = f"请填写 {low} 到 {high} 之间的整数"
        return dv
    if f.type == "date":
        dv = DataValidation(type="date", operator="between", formula1=str(_EXCEL_1900), formula2=str(_EXCEL_2100),
                            allow_blank=True)
        dv.error = "请填写 1900—2100 年之间的日期（如 2016-07-26）"
        return dv
    return None


def _validation(instrument: Instrument, f: Field, cells: str) -> DataValidation | None:
    """The drop-down or range check of an answer column, or None."""
    dv = _list_validation(instrument, f) or _number_validation(f)
    if dv is None:
        return None
    dv.errorTitle = "输入无效"
    dv.errorStyle = "stop"
    dv.showErrorMessage = True
    dv.add(cells)
    return dv


def _shown_choices(cl, f: Field, value: str):
    if f.type == "select_one":
        return cl.label_of(value) or value
    labels = [cl.label_of(c) or c for c in value.split()]
    return value if any(set(lb) & set("、，,;； ") for lb in labels) else "、".join(labels)


def _shown_date(value: str):
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return value


def _shown(instrument: Instrument, f: Field, value: str):
    """A stored value as the workbook shows it: a choice's label, a date as a date, a count as a number."""
    if value in ("", None):
        return None
    cl = instrument.choice_list(f)
    if f.is_select and cl is not None:
        return _shown_choices(cl, f, value)
    if f.type == "integer" and value.lstrip("-").isdigit():
        return int(value)
    return _shown_date(value) if f.type == "date" else str(value)


def _entry_cell(ws, row: int, col: int, f: Field, value) -> None:
    c = ws.cell(row, col, value)
    c.protection = _UNLOCKED
    c.fill = _ENTRY_FILL
    if f.type == "date":
        c.number_format = "yyyy-mm-dd"
    elif f.type in ("text", "select_multiple"):
        c.number_format = "@"


def _header(ws, labels: list[str], widths: list[float]) -> None:
    for j, (label, width) in enumerate(zip(labels, widths), start=1):
        c = ws.cell(HEADER_ROW, j, label)
        c.font = Font(bold=True)
        c.fill = _HEADER_FILL
        c.alignment = Alignment(horizontal="center", wrap_text=True)
        ws.column_dimensions[get_column_letter(j)].width = width


def _choices_note(instrument: Instrument, f: Field) -> str:
    cl = instrument.choice_list(f)
    if cl is None:
        return ""
    labels = "、".join(c.label for c in cl.choices)
    if f.is_scale:   # the printed scale; the workbook takes any number within the constraint
        return f"纸面勾选：{labels}（此处填数字，可超出纸面最高档）"
    return ("可多选，用“、”分隔：" if f.type == "select_multiple" else "选项：") + labels


def _note(instrument: Instrument, f: Field) -> str:
    parts = [f.hint or "", _choices_note(instrument, f)]
    if f.relevant:
        parts.append(f"仅当{condition_text(instrument, f.relevant)}时填写")
    return "；".join(p for p in parts if p)


def _question_sheet(ws, instrument: Instrument, plan: SheetPlan, subject: dict, values: dict[str, str]) -> None:
    _header(ws, [label for _, label in QUESTION_COLUMNS], [12, 6, 50, 24, 40])
    number = 0
    for i, f in enumerate(plan.fields):
        r = FIRST_ROW + i
        number += f.prefill is None
        ws.cell(r, 1, f.name)
        ws.cell(r, 2, number if f.prefill is None else None)
        ws.cell(r, 3, f.label)
        ws.cell(r, 5, _note(instrument, f))
        if f.prefill is not None:
            ws.cell(r, 4, _cell_text(subject.get(f.prefill)))
            continue
        _entry_cell(ws, r, 4, f, _shown(instrument, f, values.get(f.name, "")))
        dv = _validation(instrument, f, f"D{r}")
        if dv is not None:
            ws.add_data_validation(dv)


def _table_cell(ws, r: int, j: int, name: str, f: Field | None, row: dict, key: str | None, answers: dict,
                instrument: Instrument) -> None:
    """One cell of a table sheet: a fixed row's label, the row's key or a prefilled value (locked), or an answer."""
    if name == "=":
        ws.cell(r, j, row["label"])
    elif f is None or name == key:
        ws.cell(r, j, row["ref"])
    elif f.prefill is not None:
        ws.cell(r, j, row["values"].get(name, ""))
    else:
        _entry_cell(ws, r, j, f, _shown(instrument, f, answers.get(name, "")))


def _answers_by_row(plan: SheetPlan, rows: list[dict], answers: list[dict]) -> list[dict]:
    """Each printed row's answers: a register or fixed row's by its key, blank rows' in order."""
    if plan.group.rows == ROWS_BLANK:
        return [answers[i] if i < len(answers) else {} for i in range(len(rows))]
    by_key = {a.get(plan.group.key or "ref"): a for a in answers}
    return [by_key.get(row["ref"], {}) for row in rows]


def _table_sheet(ws, instrument: Instrument, plan: SheetPlan, given: list[dict], answers: list[dict]) -> None:
    columns = table_columns(plan)
    by_name = {f.name: f for f in plan.fields}
    _header(ws, [label for _, label in columns], [max(8.0, min(30.0, 2.2 * len(label) + 2)) for _, label in columns])
    rows = table_rows(table_for(instrument, plan.group), given)
    for i, (row, mine) in enumerate(zip(rows, _answers_by_row(plan, rows, answers))):
        for j, (name, _) in enumerate(columns, start=1):
            _table_cell(ws, FIRST_ROW + i, j, name, by_name.get(name), row, plan.group.key, mine, instrument)
    last = FIRST_ROW + max(len(rows), 1) - 1
    for j, (name, _) in enumerate(columns, start=1):
        f = by_name.get(name)
        dv = _validation(instrument, f, f"{get_column_letter(j)}{FIRST_ROW}:{get_column_letter(j)}{last}") \
            if f is not None and f.prefill is None else None
        if dv is not None:
            ws.add_data_validation(dv)


def write_instrument_workbook(instrument: Instrument, subject: dict, rows_by_group: dict[str, list[dict]], path,
                              meta: dict, response: Response | None = None) -> None:
    """The subject's entry workbook at `path`; `response` (e.g. what a scan read) fills the answer cells."""
    wb = Workbook()
    wb.remove(wb.active)
    where = f"{subject.get('township_name', '')} {subject.get('unit_name', '')}（{subject['unit_code']}）"
    for plan in workbook_plan(instrument):
        ws = wb.create_sheet(plan.label)
        ws.cell(1, 1, f"{meta.get('round_title', '')}　{where}　{instrument.title}　{plan.label}").font = \
            Font(bold=True, size=12)
        ws.cell(2, 1, "黄色单元格由调查组填写；选项从下拉列表中选择，多选题用“、”分隔。")
        if plan.table:
            answers = response.rows.get(plan.key, []) if response else []
            _table_sheet(ws, instrument, plan, rows_by_group.get(plan.key, []), answers)
        else:
            _question_sheet(ws, instrument, plan, subject, response.values if response else {})
        ws.freeze_panes = ws.cell(FIRST_ROW, 1)
        print_setup(ws, f"{HEADER_ROW}:{HEADER_ROW}", landscape=plan.table)
        ws.protection.sheet = True
        ws.protection.formatColumns = False
        ws.protection.formatRows = False
    info = {"instrument": instrument.name, "version": instrument.version, "form_code": instrument.code,
            "unit_code": str(subject["unit_code"]), "key": str(subject.get("key", "")), **meta,
            "tool_version": __version__}
    ws = wb.create_sheet(META_SHEET)
    for i, (k, v) in enumerate(info.items(), start=1):
        ws.cell(i, 1, str(k))
        ws.cell(i, 2, str(v))
    ws.sheet_state = "veryHidden"
    wb.active = 0
    save_workbook(wb, Path(path))


# --- reading ------------------------------------------------------------------------------------

def read_instrument_workbook(instrument: Instrument, path, today: dt.date | None = None) -> Response:
    """The filled workbook's answers, validated (responses.validate); every problem located by file, sheet,
    row and column, all of them at once in one ChouyangError."""
    path = Path(path)
    wb = open_for_reading(path)
    try:
        formulas = _formula_texts(path)
        reader = WorkbookReader(instrument, path.name, read_meta(wb), formulas)
        for plan in workbook_plan(instrument):
            name = sheet_named(wb, plan.key, plan.label)
            if name is None:
                reader.problems.append(Problem(path.name, f"缺少工作表「{plan.label}」", sheet=plan.label))
                continue
            grid = _grid(wb[name], path.name, name, reader.problems)
            reader.sheet(plan, name, grid)
    finally:
        wb.close()
    raw = reader.response()
    if reader.problems:
        raise ChouyangError(f"{path.name}：工作簿有问题，没有录入", reader.problems)
    checked, problems = validate(instrument, raw, today or dt.date.today(), reader.where)
    if problems:
        raise ChouyangError(f"{path.name}：有 {len(problems)} 处填写不符合调查表「{instrument.title}」的要求，没有录入",
                            problems)
    return checked


def _grid(ws, file: str, sheet: str, problems: list[Problem]) -> list[list[str]]:
    grid = []
    for row in ws.iter_rows(values_only=True):
        if len(grid) > MAX_ROWS:
            problems.append(Problem(file, f"工作表有超过 {MAX_ROWS} 行，请检查是否粘贴了其他数据", sheet=sheet))
            break
        grid.append([_cell_text(v) for v in row])
    return grid


def _formula_texts(path: Path) -> dict[tuple[str, int, int], str]:
    """The text of every formula cell (sheet, row, column): a formula is read as what was typed, never evaluated
    (the values Excel cached would hide it; openpyxl caches none)."""
    found = {}
    wb = openpyxl.load_workbook(path, read_only=True, data_only=False)
    try:
        for ws in wb.worksheets:
            if ws.title == META_SHEET:
                continue
            for row in ws.iter_rows():
                for c in row:
                    if getattr(c, "data_type", None) == "f" and isinstance(c.value, str):
                        found[(ws.title, c.row, c.column)] = c.value
    finally:
        wb.close()
    return found


__all__ = ["FIRST_ROW", "HEADER_ROW", "Place", "SheetPlan", "question_row", "read_instrument_workbook",
           "table_columns", "workbook_plan", "write_instrument_workbook"]
