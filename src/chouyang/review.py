"""The scan review queue (核对): flagged rows of scanned forms, decided one at a time.

`chouyang scan` writes, per sample point, `scan/<unit>.xlsx` (the entry
workbook filled with what was read), the straightened crops under
`scan/review/`, and `scan/review/<unit>.json`: one item per flagged row.
`read_items` is the one place that knows that file's format:

    {"unit_code": "411381001201",
     "items": [{"sheet": "births_check", "row": 5, "ref": "B001", "page": 3,
                "crop": "411381001201_p3_B001.png",
                "issues": ["「反映群众人数」标记不清"],
                "fields": [{"key": "witnesses", "kind": "ticks",
                            "options": [{"label": "0", "value": "0"}, …, {"label": "5+", "value": "5"}],
                            "value": "3", "confidence": 0.62},
                           {"key": "note", "kind": "write", "options": [], "value": "", "confidence": 0.0}]}]}

(`items` may also be the whole file; an option may be a plain string; `sheet`
may be the key or the Chinese sheet name.)  An item's id is a hash of its
content, so a new scan of the same page gives new items and earlier decisions
never apply to values they were not made for.

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

from . import vocab
from .errors import ChouyangError
from .forms.workbook import column_of
from .keyed import ID_KEYS

TICKS, WRITE = "ticks", "write"
ACCEPTED, ILLEGIBLE = "accepted", "illegible"
MAX_TEXT = 200
_SHEET_BY_LABEL = {label: key for key, label in vocab.SHEETS.items()}

DECISIONS_SQL = """
CREATE TABLE IF NOT EXISTS review_decisions (
    unit_code TEXT NOT NULL,
    item_id TEXT NOT NULL,
    state TEXT NOT NULL,
    data TEXT NOT NULL,
    user TEXT NOT NULL,
    time TEXT NOT NULL,
    PRIMARY KEY (unit_code, item_id)
)
"""


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
    raw_items = data.get("items") if isinstance(data, dict) else data
    if not isinstance(raw_items, list):
        raise ChouyangError(f"{source or unit_code}：核对清单格式不对（应有 items 列表）")
    items = []
    for n, raw in enumerate(raw_items, start=1):
        try:
            items.append(_item(unit_code, raw))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ChouyangError(f"{source or unit_code}：第 {n} 个核对条目格式不对（{type(exc).__name__}: {exc}）") from None
    return items


def _item(unit_code: str, raw: dict) -> Item:
    sheet = _SHEET_BY_LABEL.get(raw["sheet"], raw["sheet"])
    if sheet not in vocab.SHEETS:
        raise ValueError(f"unknown sheet {raw['sheet']}")
    fields = []
    for f in raw["fields"]:
        options = tuple(Option(str(o["label"]), str(o["value"])) if isinstance(o, dict) else Option(str(o), str(o))
                        for o in f.get("options") or ())
        if f["key"] not in vocab.sheet_columns(sheet):
            raise ValueError(f"unknown column {f['key']}")
        confidence = f.get("confidence")
        fields.append(Field(f["key"], TICKS if f.get("kind") == TICKS else WRITE, options,
                            "" if f.get("value") is None else str(f["value"]),
                            None if confidence is None else float(confidence)))
    blob = json.dumps(raw, ensure_ascii=False, sort_keys=True).encode("utf-8")
    return Item(hashlib.sha256(blob).hexdigest()[:12], unit_code, sheet, int(raw["row"]), str(raw.get("ref") or ""),
                int(raw.get("page") or 0), str(raw.get("crop") or ""), tuple(str(t) for t in raw.get("issues") or ()),
                tuple(fields))


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


# --- the store (inside an open transaction) ------------------------------------

def ensure_schema(con: sqlite3.Connection) -> None:
    con.execute(DECISIONS_SQL)


def decisions(con: sqlite3.Connection, unit_code: str | None = None) -> dict[str, dict[str, Decision]]:
    """unit -> item id -> decision."""
    ensure_schema(con)
    sql = "SELECT unit_code, item_id, state, data, user, time FROM review_decisions"
    args: tuple = ()
    if unit_code is not None:
        sql += " WHERE unit_code = ?"
        args = (unit_code,)
    out: dict[str, dict[str, Decision]] = {}
    for unit, item_id, state, data, user, time in con.execute(sql, args):
        out.setdefault(unit, {})[item_id] = Decision(item_id, state, json.loads(data), user, time)
    return out


def store_decision(con: sqlite3.Connection, unit_code: str, item_id: str, state: str, values: dict[str, str],
                   user: str, now: str) -> None:
    """Store (or replace) the decision on one item."""
    con.execute("INSERT OR REPLACE INTO review_decisions (unit_code, item_id, state, data, user, time) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (unit_code, item_id, state, json.dumps(values, ensure_ascii=False, sort_keys=True), user, now))
