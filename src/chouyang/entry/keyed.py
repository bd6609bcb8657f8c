"""Keyed entry with blind double entry (录入, as CSPro and EpiData do).

Two clerks key the same paper form of a sample point independently: the second
never sees the first's values.  Their passes are compared field by field; every
mismatch is settled by an adjudicator who looks at the paper, and the settled
result (pass 0) becomes an `EntryFile` that goes through exactly the validation
and the single store transaction of `chouyang ingest`.

A pass holds the entry columns of the entry workbook (vocab.ENTRY_COLUMNS),
sheet by sheet: one row per register row of a check sheet (in checklist order,
with its `ref`), and the keyed rows of the missed sheets.  Rows carry the
spreadsheet row number the entry workbook gives them, so a problem found by the
validation names the same row on the screen, in the workbook and on paper.

Per clerk, the discrepancy rate is the share of the fields they keyed (in
settled sample points) whose value differed from the settled value.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass

from chouyang import vocab
from chouyang.errors import ChouyangError, Problem
from chouyang.render.survey_workbook import FIRST_ROW, EntryFile
from chouyang.round import store as db
from chouyang.survey.check_rows import UnitChecklist

PASSES = (1, 2)
FINAL = 0  # the settled (adjudicated) record
DRAFT, DONE = "draft", "done"
MAX_TEXT = 200  # characters in one keyed field
MAX_NEW_ROWS = 200  # new rows of one missed sheet in one pass
ID_KEYS = ("person_id", "mother_id")  # never shown unmasked: an empty box keeps the stored value

@dataclass(frozen=True)
class Pass:
    unit_code: str
    number: int
    clerk: str
    state: str
    data: dict[str, list[dict]]
    updated: str


@dataclass(frozen=True)
class Mismatch:
    sheet: str
    index: int  # row index in the sheet (from 0)
    ref: str
    key: str
    first: str
    second: str

    @property
    def row(self) -> int:
        return FIRST_ROW + self.index


def sheets_of(checklist: UnitChecklist) -> list[str]:
    """The unit's sheets in workbook order: its check sheets, then the missed sheets."""
    return [s for s in vocab.CHECK_SHEETS if s in checklist.sections] + list(vocab.MISSED_SHEETS)


def field_name(sheet: str, index: int, key: str) -> str:
    """The form field of one keyed value."""
    return f"{sheet}.{index}.{key}"


def parse_form(form: Mapping[str, str], checklist: UnitChecklist, base: dict[str, list[dict]] | None = None
               ) -> dict[str, list[dict]]:
    """A pass from a submitted form.

    Check sheets take their refs from the checklist (never from the form).  A missed sheet
    has `<sheet>.rows` rows in the form; rows left empty are dropped.  A field the form does
    not carry keeps its value in `base`, and so does an ID number box left empty (the page
    shows IDs masked) unless its `.clear` box is ticked.
    """
    base = base or {}
    problems: list[Problem] = []
    data: dict[str, list[dict]] = {}
    for sheet in sheets_of(checklist):
        old = base.get(sheet, [])
        if sheet in vocab.CHECK_SHEETS:
            refs = list(checklist.sections[sheet].ref)
            data[sheet] = [{"ref": ref, **_row_values(form, sheet, i, _row(old, i), problems)}
                           for i, ref in enumerate(refs)]
            continue
        count = _row_count(str(form.get(f"{sheet}.rows", len(old))), sheet)
        rows = (_row_values(form, sheet, i, _row(old, i), problems) for i in range(count))
        data[sheet] = [r for r in rows if any(r.values())]
    if problems:
        raise ChouyangError("录入内容有误，未保存", problems)
    return data


def _row(rows: list[dict], i: int) -> dict:
    return rows[i] if i < len(rows) else {}


def _row_count(text: str, sheet: str) -> int:
    if not text.isdigit() or int(text) > MAX_NEW_ROWS:
        raise ChouyangError(f"「{vocab.SHEETS[sheet]}」的行数无效（最多 {MAX_NEW_ROWS} 行）")
    return int(text)


def _row_values(form: Mapping[str, str], sheet: str, i: int, old: dict, problems: list[Problem]) -> dict:
    values = {}
    for key in vocab.ENTRY_COLUMNS[sheet]:
        name = field_name(sheet, i, key)
        text = str(form.get(name, old.get(key, ""))).strip()
        if key in ID_KEYS and not text and form.get(f"{name}.clear") != "1":
            text = old.get(key, "")
        if len(text) > MAX_TEXT:
            problems.append(Problem("网页录入", f"超过 {MAX_TEXT} 个字符", FIRST_ROW + i,
                                    vocab.label_for(sheet, key), text[:20] + "…", sheet=vocab.SHEETS[sheet]))
            text = ""
        values[key] = text
    return values


def aligned_rows(a: dict[str, list[dict]], b: dict[str, list[dict]], sheet: str):
    """(index, ref, row of a, row of b) for every row of a sheet in either pass."""
    rows_a, rows_b = a.get(sheet, []), b.get(sheet, [])
    if sheet in vocab.CHECK_SHEETS:
        by_ref = {r["ref"]: r for r in rows_b}
        return [(i, r["ref"], r, by_ref.get(r["ref"], {})) for i, r in enumerate(rows_a)]
    return [(i, "", _row(rows_a, i), _row(rows_b, i)) for i in range(max(len(rows_a), len(rows_b)))]


def compare(a: dict[str, list[dict]], b: dict[str, list[dict]]) -> list[Mismatch]:
    """Every field where two passes differ, in sheet and row order."""
    out = []
    for sheet in vocab.SHEETS:
        for i, ref, ra, rb in aligned_rows(a, b, sheet):
            for key in vocab.ENTRY_COLUMNS[sheet]:
                if ra.get(key, "") != rb.get(key, ""):
                    out.append(Mismatch(sheet, i, ref, key, ra.get(key, ""), rb.get(key, "")))
    return out


def field_count(a: dict[str, list[dict]], b: dict[str, list[dict]]) -> int:
    """Fields compared between two passes (every entry column of every row in either)."""
    return sum(len(vocab.ENTRY_COLUMNS[sheet]) * len(aligned_rows(a, b, sheet)) for sheet in vocab.SHEETS)


def resolve(form: Mapping[str, str], mismatches: list[Mismatch]) -> tuple[dict[str, str], list[Mismatch]]:
    """The adjudication form with each picked mismatch ("@1" or "@2") replaced by that pass's value.

    Returns the resolved form and the mismatches nobody picked a value for.
    """
    out = dict(form)
    open_ = []
    for m in mismatches:
        name = field_name(m.sheet, m.index, m.key)
        pick = form.get(name)
        if pick == "@1":
            out[name] = m.first
        elif pick == "@2":
            out[name] = m.second
        else:
            open_.append(m)
    return out, open_


def unresolved_error(open_: list[Mismatch]) -> ChouyangError:
    problems = [Problem("核定", "两遍录入不一致，请对照纸质表选择正确的值", m.row, vocab.label_for(m.sheet, m.key),
                        sheet=vocab.SHEETS[m.sheet]) for m in open_]
    return ChouyangError(f"还有 {len(open_)} 处差异没有选择，未入库", problems)


def entry_file(meta: dict[str, str], checklist: UnitChecklist, data: dict[str, list[dict]], source: str) -> EntryFile:
    """A pass as the `EntryFile` that `read_entry` would give for the same values in a workbook."""
    sheets = {}
    for sheet in sheets_of(checklist):
        keys = (("ref",) if sheet in vocab.CHECK_SHEETS else ()) + vocab.ENTRY_COLUMNS[sheet]
        sheets[sheet] = [(FIRST_ROW + i, {k: row.get(k, "") for k in keys})
                         for i, row in enumerate(data.get(sheet, []))]
    return EntryFile(source, dict(meta), sheets)


def differing_positions(a: str, b: str) -> str:
    """Where two ID numbers differ ("第 9、10 位"), so a masked pair can still be told apart."""
    if len(a) != len(b):
        return f"位数不同（{len(a)} 位 / {len(b)} 位）"
    return "第 " + "、".join(str(i + 1) for i, (x, y) in enumerate(zip(a, b)) if x != y) + " 位不同"


def errors_against(p: dict[str, list[dict]], final: dict[str, list[dict]]) -> tuple[int, int]:
    """(fields, fields differing from the settled record) of one pass."""
    return field_count(p, final), len(compare(p, final))


# --- the store (inside an open transaction; the tables are round/store.py's) -----------

def passes(con: sqlite3.Connection, unit_code: str | None = None) -> list[Pass]:
    return [Pass(*row) for row in db.keyed_pass_rows(con, unit_code)]


def unit_passes(con: sqlite3.Connection, unit_code: str) -> dict[int, Pass]:
    return {p.number: p for p in passes(con, unit_code)}


def pass_of(found: dict[int, Pass], clerk: str) -> int | None:
    """The pass a clerk keys in a unit: their own, else the first free one; None when both are taken."""
    for n in PASSES:
        if n in found and found[n].clerk == clerk:
            return n
    return next((n for n in PASSES if n not in found), None)


def save_pass(con: sqlite3.Connection, unit_code: str, clerk: str, data: dict, finish: bool, now: str) -> int:
    """Store a clerk's pass (claiming a free one if they have none); returns its number."""
    found = unit_passes(con, unit_code)
    if FINAL in found and found[FINAL].state == DONE:
        raise ChouyangError(f"样本点 {unit_code} 的录入已经核定入库，不能再修改")
    n = pass_of(found, clerk)
    if n is None:
        raise ChouyangError(f"样本点 {unit_code} 的两遍录入已分别由 {found[1].clerk}、{found[2].clerk} 负责")
    if n in found and found[n].state == DONE:
        raise ChouyangError(f"第 {n} 遍录入已经提交，不能再修改；两遍不一致之处在核定时更正")
    db.put_keyed_pass(con, unit_code, n, clerk, DONE if finish else DRAFT, data, now)
    return n


def save_final(con: sqlite3.Connection, unit_code: str, user: str, data: dict, state: str, now: str) -> None:
    db.put_keyed_pass(con, unit_code, FINAL, user, state, data, now)


def record_errors(con: sqlite3.Connection, unit_code: str, found: dict[int, Pass], final: dict) -> None:
    """Each clerk's fields and fields differing from the settled record, for the discrepancy rates."""
    for n in PASSES:
        fields, errors = errors_against(found[n].data, final)
        db.put_keyed_errors(con, unit_code, n, found[n].clerk, fields, errors)


def clerk_rates(con: sqlite3.Connection) -> list[dict]:
    """Per clerk: settled units keyed, fields, fields differing from the settled value, and the rate."""
    rows = db.clerk_error_sums(con)
    return [{"clerk": c, "units": u, "fields": f, "errors": e, "rate": e / f if f else None} for c, u, f, e in rows]
