"""Scanned assessment checklists (issue 13): what the reader saw on a township's pages, as its checklist workbook.

The pages are read by the survey forms' reader (scan.read_page, with the layout record the
checklist renderer wrote: forms/checklist_pdf.py); this module only interprets the fields.
Each layout field names the workbook column it fills (`column`), the department (`part`) and
whether a value is required (`required`):
- a tick group gives its option's stored value (scan.field_value: unclear marks, two marks
  and a cancelled box with no other go to review); a band or an open top ("≥65%", "2+")
  also writes a note saying what was ticked and what was stored;
- a required group left empty goes to review;
- a write-in is never read: ink in one, or an empty one that is required (a rate written by
  hand, an entered score), or an empty document/reason/evidence box on a row ticked 是,
  goes to review.
`fill_checklist_scan` writes the values into a copy of the township's checklist workbook
(assessment_workbook.fill_checklist_workbook) and returns the review items, in the survey
review list's format (scan.ReviewItem), so `chouyang ingest` and people take both alike.
"""

from __future__ import annotations

from pathlib import Path

from chouyang import vocab
from chouyang.assessment.facts import ENTRY_COLUMNS, SHEETS, Entries
from chouyang.render.checklist_workbook import fill_checklist_workbook
from chouyang.scan.pages import PageRead
from chouyang.scan.review_items import ReviewItem
from chouyang.scan.rows import field_value

YES = vocab.YES_NO[0]


def _note(label: str, value) -> str:
    return f"纸质清单勾选「{label}」，按 {value} 录入"


def interpret_checklist_row(row: dict, spec: dict) -> tuple[dict[tuple[str, str], str], list[str], dict]:
    """One read row of a checklist page and its layout row: values by (column, part), issues, values by field key."""
    values: dict[tuple[str, str], str] = {}
    by_key: dict = {}
    issues: list[str] = []
    ticked_yes = False
    unwritten = []
    for key, read in row["fields"].items():
        field = spec["fields"][key]
        if read.kind == "write":
            if read.written:
                issues.append(f"「{read.label}」有手写内容，请人工录入")
            elif field.get("required"):
                issues.append(f"「{read.label}」未填写")
            else:
                unwritten.append(read.label)
            continue
        value, found = field_value(read)
        issues += found
        by_key[key] = value
        if value == "":
            if field.get("required") and not found:
                issues.append(f"「{read.label}」未勾选")
            continue
        ticked_yes |= value == YES
        values[(field["column"], field.get("part", ""))] = str(value)
        option = next(o for o in read.options if o["value"] == value)
        if option["label"] != str(value):
            values[("note", field.get("part", ""))] = _note(option["label"], value)
    if ticked_yes:
        issues += [f"勾选了「{YES}」，须填写「{label}」" for label in unwritten]
    return values, issues, by_key


def checklist_scan_entries(township_code: str, reads: list[PageRead], layout: dict):
    """Entries read from a township's checklist pages, and the rows to review: (read, row, section, (ref, part),
    issues, values by field key)."""
    tables: dict[str, dict[tuple[str, str], dict]] = {name: {} for name in ENTRY_COLUMNS}
    pending = []
    for read in reads:
        page = layout["pages"][read.page_id.page - 1]
        for row, spec in zip(read.rows, page["rows"]):
            section, ref = row["section"], row["ref"]
            values, issues, by_key = interpret_checklist_row(row, spec)
            first = ENTRY_COLUMNS[section][1]
            for (column, part), value in values.items():
                entry = tables[section].setdefault((ref, part), {"township_code": township_code, first: ref,
                                                                 **({"part": part} if section == "facts" else {})})
                entry[column] = value
            if issues:
                parts = [f.get("part", "") for f in spec["fields"].values()]
                pending.append((read, row, section, (ref, parts[0] if section == "facts" else ""), issues, by_key))
    entries = Entries.from_records(**{name: list(rows.values()) for name, rows in tables.items()})
    return entries, pending


def fill_checklist_scan(source: Path, target: Path, township_code: str, reads: list[PageRead],
                        layout: dict) -> list[ReviewItem]:
    """Write what was read into a copy of the township's checklist workbook (`target`); returns the rows to review."""
    entries, pending = checklist_scan_entries(township_code, reads, layout)
    rows = fill_checklist_workbook(source, entries, target)
    return [ReviewItem(read, row, section, rows[section][key], issues, values, sheet_label=SHEETS[section])
            for read, row, section, key, issues, values in pending]
