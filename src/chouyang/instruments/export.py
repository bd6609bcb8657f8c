"""`chouyang export`: the stored responses of one instrument as `<NAME>.csv` (issue 18).

One row per response for an instrument without repeats: `unit_code`, then (for instruments asked
per household or person) `key`, then one column per top-level field by name, choices as codes.

An instrument with repeats (a register-bound one, a checklist's fixed rows, blank rows) has one row
per repeat row: `unit_code`, [`key`,] `group` (the repeat's name), `ref` (the row's key: the value of
the repeat's `key` field, e.g. the register row's ref), then the union of all repeats' field names in
definition order, then the top-level fields not already named.  Each row carries its response's
top-level answers, so the file is one flat table; a field that another repeat does not have is empty
on that repeat's rows; where a repeat field and a top-level field share a name the row's value wins
(as in validation).  A response without any repeat row still has one line (`group` and `ref`
empty), so a point visited with nothing to check is not lost.  Rows follow the responses' order.

Cells that Excel or WPS would run as a formula (starting with = + - @, or a tab or carriage return,
OWASP's list) are written with a leading apostrophe, which both show as text; a plain number such as
-3 is left as it is.  `read_cell` undoes it for a program reading the file back.
"""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

from chouyang import atomic
from chouyang.instruments.model import Field, Instrument
from chouyang.instruments.responses import Response

_FORMULA_LEAD = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"-?\d+(\.\d+)?")
_KEYED = ("household", "person")   # instruments whose responses carry a subject key beside unit_code


def safe_cell(text: str) -> str:
    """The cell as written: a formula-looking text gets a leading apostrophe; numbers stay numbers.

    A text that already starts with apostrophes before such a character gets one more, so that
    `read_cell` can always undo exactly one.
    """
    if text.lstrip("'").startswith(_FORMULA_LEAD) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text


def read_cell(text: str) -> str:
    """The inverse of `safe_cell`, for a program reading an exported file."""
    return text[1:] if text.startswith("'") and text.lstrip("'").startswith(_FORMULA_LEAD) else text


def _stored(f: Field) -> bool:
    return f.type != "note" and f.name != "unit_code"


def _top_fields(instrument: Instrument) -> list[str]:
    return [f.name for groups, f in instrument.walk() if not any(g.repeat for g in groups) and _stored(f)]


def _repeat_fields(instrument: Instrument) -> list[str]:
    names: list[str] = []
    for groups, f in instrument.walk():
        if any(g.repeat for g in groups) and _stored(f) and f.name not in names:
            names.append(f.name)
    return names


def export_rows(instrument: Instrument, responses: list[Response]) -> tuple[list[str], list[list[str]]]:
    """(header, rows) of `<NAME>.csv`, every cell already formula-safe."""
    lead = ["unit_code"] + (["key"] if instrument.per in _KEYED else [])
    top = _top_fields(instrument)
    if not instrument.repeats():
        header = lead + top
        rows = [_lead(instrument, r) + [r.values.get(n, "") for n in top] for r in responses]
    else:
        header, rows = _repeat_rows(instrument, responses, top)
        header = lead + header
    return header, [[safe_cell(c) for c in row] for row in rows]


def _repeat_rows(instrument: Instrument, responses: list[Response], top: list[str]) -> tuple[list[str], list[list[str]]]:
    repeats = instrument.repeats()
    inner, rest = _repeat_columns(instrument, top)
    rows = []
    for r in responses:
        outer = [r.values.get(n, "") for n in rest]
        lines = [_repeat_line(g.name, g.key, {**r.values, **row}, inner) for g in repeats for row in r.rows.get(g.name, [])]
        for line in lines or [["", ""] + [""] * len(inner)]:
            rows.append(_lead(instrument, r) + line + outer)
    return ["group", "ref"] + inner + rest, rows


def _repeat_columns(instrument: Instrument, top: list[str]) -> tuple[list[str], list[str]]:
    """(the repeats' field columns, the top-level columns after them)."""
    keys = {g.key for g in instrument.repeats() if g.key}
    inner = [n for n in _repeat_fields(instrument) if not (n == "ref" and n in keys)]   # already the ref column
    return inner, [n for n in top if n not in inner]


def _repeat_line(group: str, key: str | None, values: dict[str, str], names: list[str]) -> list[str]:
    return [group, values.get(key, "") if key else ""] + [values.get(n, "") for n in names]


def _lead(instrument: Instrument, r: Response) -> list[str]:
    return [r.unit_code] + ([r.key] if instrument.per in _KEYED else [])


def csv_bytes(header: list[str], rows: list[list[str]]) -> bytes:
    """UTF-8 with BOM (Excel/WPS in China open it as UTF-8 only with the BOM), one line per row."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buf.getvalue().encode("utf-8-sig")


def write_csv(path: Path, header: list[str], rows: list[list[str]]) -> None:
    """The file whole or not at all (`chouyang.atomic`)."""
    atomic.write_bytes(Path(path), csv_bytes(header, rows))
