"""The sheets of an instrument's entry workbook: which fields go where (shared by the writer, the reader and
the scan's review list, which names the workbook row of each row to check)."""

from __future__ import annotations

from dataclasses import dataclass

from chouyang.instruments.model import ROWS_BLANK, ROWS_FIXED, Field, Group, Instrument
from chouyang.render.instrument_items import ROOT

HEADER_ROW = 3
FIRST_ROW = HEADER_ROW + 1
QUESTION_COLUMNS = (("name", "字段"), ("number", "题号"), ("label", "题目"), ("value", "回答"), ("note", "说明"))


@dataclass(frozen=True)
class SheetPlan:
    key: str                      # the section's or repeat's name (ROOT: fields outside any group)
    label: str                    # the sheet's title
    fields: tuple[Field, ...]     # answered or prefilled fields, in order
    group: Group | None = None    # the repeat, for a table sheet

    @property
    def table(self) -> bool:
        return self.group is not None


def _kept(f: Field) -> bool:
    return f.type not in ("note", "calculate")


def _home(parents: tuple[Group, ...]) -> tuple[str, str, Group | None]:
    """(sheet key, label, repeat) of a field inside `parents`: its innermost repeat, else its top section."""
    repeat = next((g for g in reversed(parents) if g.repeat), None)
    outer = repeat or (parents[0] if parents else None)
    return (outer.name, outer.label, repeat) if outer else (ROOT, "基本情况", None)


def workbook_plan(instrument: Instrument) -> list[SheetPlan]:
    """The sheets of the instrument's workbook, in order (a repeat with no answered field still gets its sheet)."""
    sheets: dict[str, tuple[str, Group | None, list[Field]]] = {}
    for parents, f in instrument.walk():
        key, label, repeat = _home(parents)
        entry = sheets.setdefault(key, (label, repeat, []))
        if _kept(f):
            entry[2].append(f)
    for g in instrument.repeats():
        sheets.setdefault(g.name, (g.label, g, []))
    return [SheetPlan(k, _sheet_title(label), tuple(fields), repeat)
            for k, (label, repeat, fields) in sheets.items() if fields or repeat is not None]


def _sheet_title(label: str) -> str:
    clean = "".join("_" if c in "[]:*?/\\" else c for c in label)
    return clean[:31] or "sheet"


def question_row(plan: SheetPlan, name: str) -> int:
    """The spreadsheet row of a question on its sheet."""
    return FIRST_ROW + [f.name for f in plan.fields].index(name)


def table_columns(plan: SheetPlan) -> list[tuple[str, str]]:
    """(name, header label) of a table sheet's columns: the row key, a fixed row's label, then the fields."""
    g = plan.group
    names = [f.name for f in plan.fields]
    columns = []
    if g.rows != ROWS_BLANK and g.key not in names:
        columns.append((g.key or "ref", "编号"))
    if g.rows == ROWS_FIXED:
        columns.append(("=", "项目"))
    return columns + [(f.name, f.label) for f in plan.fields]
