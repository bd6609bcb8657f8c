"""Presenters: the workstation's tables turned into rows and cells the templates only print.

Formatting (percentages, "—" for an empty value, masked ID numbers) and the
geometry of the server-drawn SVG charts live here; decisions do not.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import pandas as pd

from chouyang import vocab
from chouyang.entry import keyed
from chouyang.inputs.readers import mask_id
from chouyang.render.report import METRIC_LABELS, RULE_LABELS
from chouyang.render.survey_pdf import display_value
from chouyang.scan import review
from chouyang.survey import progress
from chouyang.survey.estimate import RATES
from chouyang.survey.feedback import TRANSITIONS
from chouyang.vocab import KIND_LABELS

EMPTY = "—"
BLANK_NEW_ROWS = 3  # empty rows offered below a missed sheet's keyed rows


def text(value) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return EMPTY
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def pct(value) -> str:
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return EMPTY
    return f"{100 * float(value):.2f}%"


def shown(key: str, value: str) -> str:
    """A keyed value as a page may show it: ID numbers masked, an empty value said."""
    if value == "":
        return "（空）"
    return mask_id(value) if key in keyed.ID_KEYS else value


_ID_LABELS = {vocab.label_for(sheet, key) for sheet in vocab.SHEETS for key in keyed.ID_KEYS
              if key in vocab.sheet_columns(sheet)}


def problem_text(problem) -> str:
    """A located problem as the CLI words it, but with an ID number masked (pages never show one whole)."""
    if problem.column in _ID_LABELS and problem.value:
        problem = replace(problem, value=mask_id(str(problem.value)))
    return str(problem)


# --- progress ------------------------------------------------------------------------

def progress_table(table: pd.DataFrame, keys: list[str]) -> dict:
    heads = [progress.LABELS[k] for k in keys] + [progress.LABELS[c] for c in progress.COUNT_COLUMNS
                                                   if c in progress.LABELS]
    rows = []
    for r in table.to_dict("records"):
        cells = [text(r[k]) or EMPTY for k in keys]
        cells += [_pages(r) if c == "pages_received" else text(r[c]) for c in progress.COUNT_COLUMNS
                  if c in progress.LABELS]
        rows.append({"cells": cells, "done": r["entered"] == r["points"], "township": r.get("township_code", "")})
    return {"heads": heads, "rows": rows}


def _pages(r: dict) -> str:
    expected = r["pages_expected"]
    if expected is pd.NA or expected is None:
        return text(r["pages_received"])
    return f"{r['pages_received']}/{expected}"


# --- keyed entry ---------------------------------------------------------------------

@dataclass
class Cell:
    name: str = ""
    kind: str = "shown"  # shown | text | select | id | pick
    value: str = ""
    choices: tuple[str, ...] = ()
    placeholder: str = ""
    picks: list[tuple[str, str, bool]] = field(default_factory=list)  # (value, label, checked)
    note: str = ""


@dataclass
class RowView:
    number: int
    ref: str
    cells: list[Cell]
    mismatched: bool = False


@dataclass
class SheetView:
    key: str
    label: str
    heads: list[str]
    rows: list[RowView]
    count_name: str = ""
    count: int = 0


def _input(sheet: str, index: int, key: str, value: str) -> Cell:
    name = keyed.field_name(sheet, index, key)
    if key in keyed.ID_KEYS:
        return Cell(name, "id", "", placeholder=mask_id(value) if value else "")
    choices = vocab.choices_for(sheet, key)
    if choices:
        return Cell(name, "select", value, tuple(choices))
    return Cell(name, "text", value)


def keyed_sheets(checklist, data: dict[str, list[dict]], mismatches: list[keyed.Mismatch] | None = None,
                 settled: bool = False) -> list[SheetView]:
    """The keying form (or, with `mismatches`, the adjudication form) sheet by sheet.

    In the adjudication form a mismatched field offers the two passes' values (masked for ID
    numbers); it is preselected only when a saved draft (`settled`) already chose one.
    """
    picks = {(m.sheet, m.index, m.key): m for m in mismatches or []}
    out = []
    for sheet in keyed.sheets_of(checklist):
        rows_data = data.get(sheet, [])
        entry_keys = vocab.ENTRY_COLUMNS[sheet]
        heads = ["行"] + [vocab.label_for(sheet, k) for k in vocab.sheet_columns(sheet)]
        rows = []
        if sheet in vocab.CHECK_SHEETS:
            register = checklist.sections[sheet].to_dict("records")
            indexes = range(len(register))
        else:
            extra = 0 if mismatches is not None else BLANK_NEW_ROWS
            width = max([len(rows_data)] + [m.index + 1 for m in picks.values() if m.sheet == sheet])
            indexes = range(width + extra)
        for i in indexes:
            values = rows_data[i] if i < len(rows_data) else {}
            cells = []
            if sheet in vocab.CHECK_SHEETS:
                reg = register[i]
                cells.append(Cell(value=reg["ref"]))
                cells += [Cell(value=display_value(sheet, k, reg)) for k in vocab.REGISTER_LABELS[sheet]]
            else:
                cells.append(Cell(value=""))
            mismatched = False
            for key in entry_keys:
                m = picks.get((sheet, i, key))
                if m is None:
                    cells.append(_input(sheet, i, key, values.get(key, "")))
                    continue
                mismatched = True
                chosen = values.get(key) if settled else None
                note = keyed.differing_positions(m.first, m.second) if key in keyed.ID_KEYS and m.first and m.second else ""
                cells.append(Cell(keyed.field_name(sheet, i, key), "pick", picks=[
                    ("@1", "一录：" + shown(key, m.first), chosen == m.first),
                    ("@2", "二录：" + shown(key, m.second), chosen == m.second and chosen != m.first)], note=note))
            rows.append(RowView(keyed.FIRST_ROW + i, values.get("ref", ""), cells, mismatched))
        count_name = f"{sheet}.rows" if sheet in vocab.MISSED_SHEETS else ""
        out.append(SheetView(sheet, vocab.SHEETS[sheet], heads, rows, count_name, len(rows)))
    return out


def mismatch_rows(mismatches: list[keyed.Mismatch]) -> list[list[str]]:
    return [[vocab.SHEETS[m.sheet], str(m.row), m.ref or "新增行", vocab.label_for(m.sheet, m.key),
             shown(m.key, m.first), shown(m.key, m.second)] for m in mismatches]


# --- review queue --------------------------------------------------------------------

@dataclass
class FieldView:
    key: str
    label: str
    kind: str
    options: list[tuple[str, str, str, bool, str]]  # (key to press, label, stored value, chosen, mark as read)
    value: str  # chosen (or read) value; masked for ID numbers
    read: str
    confidence: str
    doubtful: bool
    placeholder: str = ""


def option_keys(options) -> list[str]:
    """The key that picks each option: its own digit on a number scale (0 1 2 3 4 5+), else 1, 2, 3, …"""
    leading = [o.label[:1] for o in options]
    if all(d.isdigit() for d in leading) and len(set(leading)) == len(leading):
        return leading
    return [str(n) for n in range(1, len(options) + 1)]


def review_fields(item: review.Item, decision: review.Decision | None) -> list[FieldView]:
    chosen = decision.values if decision is not None and decision.state == review.ACCEPTED else item.read_values()
    out = []
    for f in item.fields:
        value = chosen.get(f.key, "")
        marks = list(f.marks) + [""] * (len(f.options) - len(f.marks))
        options = [(k, o.label, o.value, o.value == value, review.MARK_WORDS.get(m, ""))
                   for k, o, m in zip(option_keys(f.options), f.options, marks)]
        confidence = "" if f.confidence is None else f"{100 * f.confidence:.0f}%"
        is_id = f.key in keyed.ID_KEYS
        out.append(FieldView(f.key, vocab.label_for(item.sheet, f.key), f.kind, options, "" if is_id else value,
                             shown(f.key, f.value) if f.value else ("（有手写内容）" if f.written else "（未读出）"),
                             confidence,
                             f.confidence is not None and f.confidence < 0.9,
                             mask_id(value) if is_id and value else ""))
    return out


# --- cases -----------------------------------------------------------------------------

def case_rows(table: pd.DataFrame, history: dict) -> list[dict]:
    rows = []
    for c in table.itertuples():
        rows.append({
            "unit_code": c.unit_code, "unit_name": c.unit_name, "ref": c.ref, "kind": KIND_LABELS[c.kind],
            "detail": c.parity or c.procedure_type or "", "witnesses": text(c.witnesses), "verified": c.verified or EMPTY,
            "counted": "撤销" if c.status == "撤销" else ("确认" if c.confirmed else "待核实"),
            "rule": RULE_LABELS.get(c.rule, c.rule), "points": text(float(c.points)), "status": c.status,
            "note": c.status_note, "next": TRANSITIONS[c.status],
            "history": [f"{h.time} {h.user}：{h.status}" + (f"（{h.comment}）" if h.comment else "")
                        for h in history.get((c.unit_code, c.ref), [])]})
    return rows


# --- score and report ---------------------------------------------------------------------

def ranking_rows(towns: pd.DataFrame) -> list[list[str]]:
    return [[text(r.rank), r.township_name, text(r.points), text(r.cases_confirmed), text(r.cases_pending),
             text(r.deduction_raw), text(r.deduction), pct(r.birth_error_rate), pct(r.statistical_error_rate),
             "" if pd.isna(r.flag) else str(r.flag)] for r in towns.itertuples()]


@dataclass
class Bar:
    label: str
    y: float
    width: float
    value: str
    capped: bool


def deduction_chart(towns: pd.DataFrame, cap: float, width: float = 420.0, bar: float = 16.0) -> dict:
    """Horizontal bars of each township's deduction (after the cap), with the cap as a line."""
    towns = towns.sort_values("township_code")
    top = max(cap, float(towns.deduction.max() if len(towns) else 0) or 1.0)
    scale = width / top
    bars = [Bar(r.township_name, i * (bar + 6), r.deduction * scale, f"{r.deduction:g}", r.deduction_raw > r.deduction)
            for i, r in enumerate(towns.itertuples())]
    return {"bars": bars, "cap_x": cap * scale, "cap": f"{cap:g}", "height": len(bars) * (bar + 6), "bar": bar,
            "width": width}


def rate_chart(county: pd.DataFrame, width: float = 420.0) -> dict:
    """County error rates: a dot for the estimate and a line for its 95% interval."""
    rates = county[county.metric.isin(list(RATES))]
    top = max(float(rates.ci_high.max(skipna=True)) if rates.ci_high.notna().any() else 0.01, 0.01)
    scale = width / top
    rows = []
    for i, r in enumerate(rates.itertuples()):
        known = not pd.isna(r.estimate)
        rows.append({"label": METRIC_LABELS.get(r.metric, r.metric), "y": i * 24 + 12, "known": known,
                     "x": r.estimate * scale if known else 0, "low": (r.ci_low if known else 0) * scale,
                     "high": (r.ci_high if known else 0) * scale,
                     "text": f"{pct(r.estimate)}（{pct(r.ci_low)}–{pct(r.ci_high)}）" if known else EMPTY})
    return {"rows": rows, "height": len(rows) * 24 + 10, "width": width, "top": pct(top)}
