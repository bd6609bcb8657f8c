"""The scan review queue (核对): flagged rows of scanned forms, decided one at a time.

`chouyang scan` writes, per sample point, `scan/<unit>.xlsx` (the entry
workbook filled with what was read), the straightened crops under
`scan/review/`, and `scan/review/<unit>.json`: one item per flagged row.
`read_items` is the one place that knows that file's format (format 1 of the
scan reader, scan/review_items.py):

    {"format": 1, "round_id": "2016H1", "unit_code": "411381001202",
     "items": [{"sheet": "births_check", "sheet_label": "出生核对", "workbook_row": 5,
                "ref": "B002" | null, "blank_index": null | 3, "page": 2,
                "crop": "411381001202_p2_B002.png", "issues": ["「核实结果」标记不清（错报）"],
                "fields": [{"key": "result", "label": "核实结果", "kind": "ticks",
                            "options": [{"label": "属实", "value": "属实"}, …],
                            "value": "属实" | 4 | null, "confidence": 0.97,
                            "marks": ["marked", "empty", "uncertain"]},
                           {"key": "note", "label": "备注", "kind": "write",
                            "value": null, "written": true, "confidence": 0.9}]}]}

`value` is what was written into the workbook (null: nothing), `marks` each
option's state in option order.  An item's id is a hash of its content, so a
new scan of the same page gives new items and earlier decisions never apply to
values they were not made for.

A decision gives every field of an item its value (an option's stored value for
tick fields, text for write-in fields) or marks the item illegible (无法辨认).
Decisions are stored and logged by the workstation; here they are checked and
written into the unit's workbook.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Mapping
from dataclasses import dataclass

from chouyang import vocab
from chouyang.entry.keyed import ID_KEYS
from chouyang.errors import ChouyangError
from chouyang.render.survey_workbook import column_of
from chouyang.round import store as db

FORMAT = 1
TICKS, WRITE = "ticks", "write"
ACCEPTED, ILLEGIBLE = "accepted", "illegible"
MAX_TEXT = 200
MARK_WORDS = {"marked": "已勾", "filled": "涂黑作废", "uncertain": "不清"}  # states worth showing beside an option

@dataclass(frozen=True)
class Option:
    label: str
    value: str


@dataclass(frozen=True)
class Field:
    key: str
    kind: str  # ticks | write
    options: tuple[Option, ...]
    value: str  # as read
    confidence: float | None
    marks: tuple[str, ...] = ()  # each option's state as read: empty, marked, filled (cancelled), uncertain
    written: bool = False  # a write-in box with ink in it

    @property
    def values(self) -> tuple[str, ...]:
        return tuple(o.value for o in self.options)


@dataclass(frozen=True)
class Item:
    id: str
    unit_code: str
    sheet: str
    row: int  # in scan/<unit>.xlsx
    ref: str  # "" for a new (missed) row
    page: int
    crop: str
    issues: tuple[str, ...]
    fields: tuple[Field, ...]

    def read_values(self) -> dict[str, str]:
        return {f.key: f.value for f in self.fields}


@dataclass(frozen=True)
class Decision:
    item_id: str
    state: str  # accepted | illegible
    values: dict[str, str]
    user: str
    time: str


def read_items(unit_code: str, data, source: str = "") -> list[Item]:
    """The review items of one unit from its decoded JSON file (the one adapter to the scan reader's format)."""
    raw_items = data.get("items") if isinstance(data, dict) else None
    if not isinstance(raw_items, list) or data.get("format", FORMAT) != FORMAT:
        raise ChouyangError(f"{source or unit_code}：核对清单格式不对（应为 format {FORMAT}，有 items 列表）")
    items = []
    for n, raw in enumerate(raw_items, start=1):
        try:
            items.append(_item(unit_code, raw))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ChouyangError(f"{source or unit_code}：第 {n} 个核对条目格式不对（{type(exc).__name__}: {exc}）") from None
    return items


def _item(unit_code: str, raw: dict) -> Item:
    sheet = raw["sheet"]
    if sheet not in vocab.SHEETS:
        raise ValueError(f"unknown sheet {sheet}")
    fields = [_field(sheet, f) for f in raw["fields"]]
    blob = json.dumps(raw, ensure_ascii=False, sort_keys=True).encode("utf-8")
    return Item(hashlib.sha256(blob).hexdigest()[:12], unit_code, sheet, int(raw["workbook_row"]),
                str(raw.get("ref") or ""), int(raw.get("page") or 0), str(raw.get("crop") or ""),
                tuple(str(t) for t in raw.get("issues") or ()), tuple(fields))


def _field(sheet: str, f: dict) -> Field:
    """One field of an item as the review list gives it (a column the sheet does not have is refused)."""
    options = tuple(Option(str(o["label"]), str(o["value"])) for o in f.get("options") or ())
    if f["key"] not in vocab.sheet_columns(sheet):
        raise ValueError(f"unknown column {f['key']}")
    confidence = f.get("confidence")
    return Field(f["key"], TICKS if f.get("kind") == TICKS else WRITE, options,
                 "" if f.get("value") is None else str(f["value"]),
                 None if confidence is None else float(confidence),
                 tuple(str(m) for m in f.get("marks") or ()), bool(f.get("written")))


def decision_values(item: Item, form: Mapping[str, str], before: dict[str, str]) -> dict[str, str]:
    """The values a clerk gave an item (form field `f.<key>`), checked against its options.

    ID numbers are never shown unmasked, so an ID box left empty keeps its value in `before`.
    """
    values = {}
    for f in item.fields:
        text = str(form.get(f"f.{f.key}", "")).strip()
        if f.key in ID_KEYS and not text:
            text = before.get(f.key, "")
        label = vocab.label_for(item.sheet, f.key)
        if f.kind == TICKS and text and text not in f.values:
            raise ChouyangError(f"「{label}」只能选择：{'、'.join(o.label for o in f.options)}（收到：{text}）")
        if len(text) > MAX_TEXT:
            raise ChouyangError(f"「{label}」超过 {MAX_TEXT} 个字符")
        values[f.key] = text
    return values


def cell_value(text: str):
    """How a decided value is stored in the workbook: whole numbers as numbers (as the scan reader does)."""
    if text == "":
        return None
    return int(text) if text.isdigit() and len(text) < 10 else text


def write_decisions(wb, decided: list[tuple[Item, dict[str, str]]]) -> None:
    """Write decided values into the unit's workbook (refusing a row that is not the item's)."""
    for item, values in decided:
        ws = wb[vocab.SHEETS[item.sheet]]
        if item.ref and str(ws.cell(item.row, 1).value or "") != item.ref:
            raise ChouyangError(f"{vocab.SHEETS[item.sheet]} 第 {item.row} 行不是编号 {item.ref}："
                                "工作簿与核对清单不一致（是否重新扫描过？）")
        columns = column_of(ws, item.sheet)
        for key, text in values.items():
            ws.cell(item.row, columns[key]).value = cell_value(text)


def is_open(item: Item, decisions: dict[str, Decision]) -> bool:
    return item.id not in decisions or decisions[item.id].state != ACCEPTED


# --- the store (inside an open transaction; the table is round/store.py's) -------------

def decisions(con: sqlite3.Connection, unit_code: str | None = None) -> dict[str, dict[str, Decision]]:
    """unit -> item id -> decision."""
    out: dict[str, dict[str, Decision]] = {}
    for unit, item_id, state, data, user, time in db.review_decision_rows(con, unit_code):
        out.setdefault(unit, {})[item_id] = Decision(item_id, state, data, user, time)
    return out


def store_decision(con: sqlite3.Connection, unit_code: str, item_id: str, state: str, values: dict[str, str],
                   user: str, now: str) -> None:
    """Store (or replace) the decision on one item."""
    db.put_review_decision(con, unit_code, item_id, state, values, user, now)
