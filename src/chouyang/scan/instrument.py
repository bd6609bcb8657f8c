"""What the reader saw on any instrument's pages, as one Response and the rows to review (issue 18).

The pages are read by the survey forms' reader (scan.pages.read_page with the layout record
render/instrument_pdf.py wrote); this module only interprets the fields, by the field each layout
key names (`q1`, `q1@2` a further line of q1's boxes, `age#1` the first digit row of age):
- tick boxes of a single choice (select_one, yes/no, a count's tick scale) give the option's stored
  value; unclear marks, two marks, and a cancelled box with no other go to review (scan.rows.field_value);
- select_multiple gives every ticked option's code, in list order; unclear marks go to review;
- digit rows give the number (unticked leading rows are 0; an unticked row after a ticked one, two
  marks in a row or an unclear mark send it to review);
- a write-in is never read: ink in one always sends its row to review ("请人工录入");
- a field with `paper = "none"` (asked in the workbook, on the web and the phone only) is not
  printed, so no page has boxes for it and nothing here expects it; should a layout record name
  one anyway (pages printed from another version of the definition), a mark there goes to review
  and nothing is stored from it.
Rows of a repeat are keyed by their register row's `ref` (or the fixed row's key) in the repeat's
key field; a blank row enters the response only when something is ticked in it (and goes to review
when anything is written in it: a newly found row).
"""

from __future__ import annotations

from chouyang.instruments.model import ROWS_BLANK, Field, Instrument
from chouyang.instruments.responses import Response
from chouyang.render.instrument_items import answer_for, digits_value
from chouyang.render.instrument_sheets import FIRST_ROW, question_row, workbook_plan
from chouyang.scan.marks import EMPTY, FILLED, MARKED, UNCERTAIN
from chouyang.scan.pages import PageRead
from chouyang.scan.review_items import ReviewItem
from chouyang.scan.rows import FieldRead, field_value


def base_name(key: str) -> str:
    """The field a layout key belongs to ('q1@2' → 'q1', 'age#1' → 'age')."""
    return key.split("@", 1)[0].split("#", 1)[0]


def _merged(reads: list[FieldRead], label: str) -> FieldRead:
    """Tick groups of one field (its lines of boxes) as one group."""
    if len(reads) == 1:
        return reads[0]
    return FieldRead(reads[0].key, "ticks", label, [o for r in reads for o in r.options],
                     [s for r in reads for s in r.states], [i for r in reads for i in r.ink],
                     min(r.confidence for r in reads))


def _multiple(read: FieldRead) -> tuple[str, list[str]]:
    codes = [str(o["value"]) for o, s in zip(read.options, read.states) if s == MARKED]
    unclear = [o["label"] for o, s in zip(read.options, read.states) if s == UNCERTAIN]
    cancelled = [o["label"] for o, s in zip(read.options, read.states) if s == FILLED]
    issues = [f"「{read.label}」标记不清（{'、'.join(unclear)}）"] if unclear else []
    if cancelled and not codes:
        issues.append(f"「{read.label}」涂黑作废了 {'、'.join(cancelled)}，未另行勾选")
    return " ".join(codes), issues


def _unticked(reads: list[FieldRead], values: list[str], is_date: bool) -> list[str]:
    """Issues for digit rows left empty where a digit is needed: every row of a date, a number's rows after its first tick."""
    first = 0 if is_date else next(i for i, v in enumerate(values) if v != "")
    return [f"「{reads[i].label}」未勾选" for i in range(first, len(reads)) if values[i] == ""]


def _digits(reads: list[FieldRead], is_date: bool) -> tuple[str, list[str]]:
    """A number (or date) from its digit rows, most significant first; a number's leading rows may stay empty (0)."""
    judged = [field_value(read) for read in reads]
    values = [str(v) for v, _ in judged]
    issues = sum((found for _, found in judged), [])
    if issues or not any(values):
        return "", issues
    issues = _unticked(reads, values, is_date)
    if issues:
        return "", issues
    return digits_value([int(v or 0) for v in values], is_date), []


def field_answer(instrument: Instrument, f: Field, reads: list[FieldRead]) -> tuple[str, list[str]]:
    """The stored text of one field read from paper ('' for none) and what is wrong with it."""
    if reads[0].kind == "write":
        return "", ([f"「{f.label}」有手写内容，请人工录入"] if any(r.written for r in reads) else [])
    answer = answer_for(instrument, f)
    if answer.kind == "digits":
        ordered = sorted(reads, key=lambda r: int(r.key.split("#", 1)[1]))
        return _digits(ordered, f.type == "date")
    merged = _merged(reads, f.label)
    if answer.multiple:
        return _multiple(merged)
    value, issues = field_value(merged)
    return ("" if value == "" else str(value)), issues


def _marked(reads: list[FieldRead]) -> bool:
    """Anything at all on a field's boxes: ink in a write-in, or a tick box not empty."""
    return any(r.written for r in reads) or any(s != EMPTY for r in reads for s in r.states)


def _row_values(instrument: Instrument, fields: dict[str, Field], row: dict) -> tuple[dict[str, str], list[str], bool]:
    """(values, issues, whether anything at all is on the row) of one read row."""
    by_field: dict[str, list[FieldRead]] = {}
    for key, read in row["fields"].items():
        by_field.setdefault(base_name(key), []).append(read)
    values, issues, anything = {}, [], False
    for name, reads in by_field.items():
        marked = _marked(reads)
        anything |= marked
        f = fields.get(name)
        if f is None or answer_for(instrument, f).kind == "none":
            issues += [f"「{reads[0].label}」不是本调查表纸面上的题目（页面可能按另一版本印制），请人工核对"] if marked else []
            continue
        value, found = field_answer(instrument, f, reads)
        issues += found
        if value != "":
            values[name] = value
    return values, issues, anything


class _Interpreter:
    """Collects one subject's values, repeat rows and review items page by page."""

    def __init__(self, instrument: Instrument):
        self.instrument = instrument
        self.fields = {f.name: f for f in instrument.fields()}
        self.plans = {p.key: p for p in workbook_plan(instrument)}
        self.sheet_of = {f.name: p for p in self.plans.values() if not p.table for f in p.fields}
        self.values: dict[str, str] = {}
        self.rows: dict[str, list[tuple[int, dict[str, str]]]] = {g.name: [] for g in instrument.repeats()}
        self.review: list[ReviewItem] = []

    def row(self, read: PageRead, row: dict, spec: dict) -> None:
        found, issues, anything = _row_values(self.instrument, self.fields, row)
        group = self.instrument.group(row["section"])
        if group is not None and group.repeat:
            place = self._repeat_row(group, row, spec, found, issues, anything)
        else:
            self.values.update(found)
            sheet = self.sheet_of.get(row["ref"])
            place = (sheet, question_row(sheet, row["ref"])) if sheet else None
        if issues and place is not None:
            sheet, wb_row = place
            self.review.append(ReviewItem(read, row, sheet.key, wb_row, issues, found, sheet_label=sheet.label))

    def _repeat_row(self, group, row: dict, spec: dict, found: dict, issues: list[str], anything: bool):
        """Keep a repeat row (a blank one only when something is on it); its sheet and workbook row."""
        index = spec.get("index", len(self.rows[group.name]))
        if row["ref"] is not None and group.key:
            found[group.key] = str(row["ref"])
        if row["ref"] is None and group.rows == ROWS_BLANK:
            if not anything:
                return None
            if any(r.written for r in row["fields"].values()):
                issues.insert(0, "新发现的一行，请核对并补录手写内容")
        self.rows[group.name].append((index, found))
        return self.plans[group.name], FIRST_ROW + index


def interpret(instrument: Instrument, reads: list[PageRead], layout: dict | None = None
              ) -> tuple[Response, list[ReviewItem]]:
    """One subject's pages (identified, located and read by scan.pages.read_page) as its Response and the rows
    people must check (scan.review_items.ReviewItem: sheet and row of the instrument's workbook).  `layout`: the
    subject's layout record, which gives each repeat row's place in the workbook (else the order read)."""
    work = _Interpreter(instrument)
    reads = sorted((r for r in reads if r.page_id is not None), key=lambda r: r.page_id.page)
    for read in reads:
        spec = layout["pages"][read.page_id.page - 1]["rows"] if layout else [{}] * len(read.rows)
        for row, spec_row in zip(read.rows, spec):
            work.row(read, row, spec_row)
    unit = reads[0].page_id.unit_code if reads else ""
    source = ", ".join(sorted({r.source for r in reads}))
    rows = {name: [r for _, r in sorted(found, key=lambda p: p[0])] for name, found in work.rows.items()}
    return Response(instrument.name, unit, "", work.values, rows, source=source), work.review
