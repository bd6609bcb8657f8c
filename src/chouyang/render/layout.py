"""The printed survey form's layout (FormLayout), built from the survey instrument's definition.

The definition (chouyang/instruments/builtins/survey.toml, or a round's own survey definition)
is the one source: sections are its repeat groups, columns are their fields in order, so the
printed form, the entry workbook and the scan reader always have the same columns in the same
order.  Which kind a column is follows from the field: a printed field (register `prefill`, or
`paper = "printed"`) is printed read-only; a field with choices is a row of tick boxes, one per
choice, labelled once in the column header (a count scale, `top`, stores whole numbers); the
rest (names, ID numbers, dates, notes) are write-in boxes, which a scan never reads: a filled
write-in always goes to review.  Widths come from the fields (`width`; the one text column
without a width takes what is left; `option_width`, else the layout's), the page geometry from
the instrument's `[layout]`.
"""

from __future__ import annotations

from dataclasses import dataclass

from chouyang.errors import ChouyangError, Problem
from chouyang.instruments.model import PAPER_TICKS, PAPER_WRITE, ROWS_BLANK, TOP_CONFIRM, ChoiceList, Field, Group, Instrument

MIN_REST = 10.0  # mm: the column that takes what is left is never narrower


@dataclass(frozen=True)
class Option:
    label: str          # printed in the column header
    value: str | int    # what a tick on it stores in the workbook


@dataclass(frozen=True)
class FormColumn:
    key: str
    width: float
    kind: str  # register | ticks | write
    label: str = ""
    options: tuple[Option, ...] = ()
    option_width: float = 0.0
    open_top: bool = False       # the last option means "this value or more" (5+, 4+)
    confirm_top: bool = False    # ... and a tick on it is confirmed by a person


@dataclass(frozen=True)
class FormSection:
    key: str
    title: str
    blank: bool
    columns: tuple[FormColumn, ...]


@dataclass(frozen=True)
class FormLayout:
    form: dict
    sections: tuple[FormSection, ...]

    @property
    def code(self) -> str:
        return self.form["code"]

    def section(self, key: str) -> FormSection:
        return next(s for s in self.sections if s.key == key)

    @property
    def header_height(self) -> float:
        return float(self.form["label_row_height"]) + float(self.form["option_row_height"])


def _column(inst: Instrument, f: Field, form: dict) -> FormColumn:
    clist = inst.choice_list(f)
    if f.printed:
        return FormColumn(f.name, float(f.width or 0), "register", f.label)
    if clist is not None and f.paper in (None, PAPER_TICKS):
        return _ticks(f, clist, form)
    if f.paper not in (None, PAPER_WRITE):
        raise ChouyangError(f"调查表 {inst.source}：题目 {f.name} 的纸面形式 {f.paper} 还不能印在核查表上"
                            "（可用：ticks、write、printed）")
    return FormColumn(f.name, float(f.width or 0), "write", f.label)


def _ticks(f: Field, clist: ChoiceList, form: dict) -> FormColumn:
    numbers = f.is_scale or f.top is not None   # a count scale stores whole numbers
    options = tuple(Option(c.label, int(c.code) if numbers else c.code) for c in clist.choices)
    pitch = float(f.option_width if f.option_width is not None else form["option_width"])
    return FormColumn(f.name, pitch * len(options), "ticks", f.label, options, pitch,
                      open_top=f.top is not None, confirm_top=f.top == TOP_CONFIRM)


def _section(inst: Instrument, group: Group, form: dict, titles: dict) -> FormSection:
    fields = [node for node in group.children if isinstance(node, Field)]
    columns = _fit(inst, group, form, [_column(inst, f, form) for f in fields], fields)
    return FormSection(group.name, titles.get(group.name, group.label), group.rows == ROWS_BLANK, tuple(columns))


def _fit(inst: Instrument, group: Group, form: dict, columns: list[FormColumn], fields: list[Field]) -> list[FormColumn]:
    """The one text column without a width takes what is left of the table's width."""
    where = f"{group.name}（{group.label}）"
    open_ = [c.key for c, f in zip(columns, fields) if c.kind != "ticks" and f.width is None]
    if len(open_) > 1:
        raise ChouyangError(f"调查表 {inst.source}", [Problem(inst.source, f"{where}：只能有一列不写宽度（width），"
                                                       f"现有 {len(open_)} 列：{'、'.join(open_)}", column="width")])
    rest = float(form["table_right"]) - float(form["table_left"]) - sum(c.width for c in columns)
    if rest < MIN_REST:
        raise ChouyangError(f"调查表 {inst.source}", [Problem(
            inst.source, f"{where}：各列共宽超出表格 {MIN_REST - rest:.1f} 毫米（不写宽度的一列至少留 {MIN_REST:.0f} 毫米）",
            column="width")])
    return [FormColumn(c.key, rest, c.kind, c.label) if c.key in open_ else c for c in columns]


def load_layout(instrument: Instrument | str = "survey") -> FormLayout:
    """The printed form of an instrument (by default the built-in survey form)."""
    if isinstance(instrument, str):
        from chouyang.instruments.catalog import builtin  # reads the definition file: only when no instrument is given

        instrument = builtin(instrument)
    titles = instrument.layout.get("section_titles", {})
    blank = [g.blank_rows for g in instrument.repeats() if g.rows == ROWS_BLANK]
    form = {k: v for k, v in instrument.layout.items() if k != "section_titles"}
    form |= {"code": instrument.code, "title": instrument.title, "min_blank_rows": max(blank, default=0)}
    sections = tuple(_section(instrument, g, form, titles) for g in instrument.repeats())
    return FormLayout(form, sections)
