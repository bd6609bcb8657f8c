"""The review queue's adapter for any instrument's scanned pages (issue 18): no per-instrument template.

`chouyang scan` writes, for a round's own instrument NAME, `scan/<unit>.NAME.xlsx` and
`scan/review/NAME/<unit>.json` (scan/review_items.py, format 1).  Its items name the instrument
workbook's sheet by its plan key (render/instrument_sheets.py) and give fields by their *layout* keys
(`q1`, `q1@2` a further line of q1's boxes, `age#1` a digit row).  Here they become `scan.review.Item`s
with one field per instrument field, kind taken from the definition:
- a single choice (select_one, yes/no, a count's tick scale): ticks, its lines of boxes merged;
- select_multiple: MULTIPLE (several options may be chosen; stored as codes separated by spaces);
- digit rows and write-ins: text, keyed by the clerk from the crop.
Decisions are written into the item's sheet and row at the column `read_instrument_workbook` reads
("回答" of a question sheet, the field's column of a table sheet), as stored values (codes, numbers),
which the reader accepts as it accepts labels.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping

from chouyang.errors import ChouyangError
from chouyang.instruments.model import Instrument
from chouyang.render.instrument_items import answer_for
from chouyang.render.instrument_sheets import QUESTION_COLUMNS, SheetPlan, table_columns, workbook_plan
from chouyang.scan import review
from chouyang.scan.instrument import base_name

MULTIPLE = "multiple"
_ANSWER_COLUMN = 1 + [k for k, _ in QUESTION_COLUMNS].index("value")
_NAME_COLUMN = 1 + [k for k, _ in QUESTION_COLUMNS].index("name")


def plans(instrument: Instrument) -> dict[str, SheetPlan]:
    return {p.key: p for p in workbook_plan(instrument)}


def read_items(instrument: Instrument, unit_code: str, data, source: str = "") -> list[review.Item]:
    """The review items of one unit's scanned pages of `instrument` from its decoded JSON file."""
    raw_items = data.get("items") if isinstance(data, dict) else None
    if not isinstance(raw_items, list) or data.get("format", review.FORMAT) != review.FORMAT:
        raise ChouyangError(f"{source or unit_code}：核对清单格式不对（应为 format {review.FORMAT}，有 items 列表）")
    sheets = plans(instrument)
    items = []
    for n, raw in enumerate(raw_items, start=1):
        try:
            items.append(_item(instrument, sheets, unit_code, raw))
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise ChouyangError(f"{source or unit_code}：第 {n} 个核对条目格式不对（{type(exc).__name__}: {exc}）") from None
    return items


def _by_field(raw_fields: list[dict]) -> dict[str, list[dict]]:
    """The item's fields grouped by the instrument field each layout key belongs to, in order."""
    out: dict[str, list[dict]] = {}
    for f in raw_fields:
        out.setdefault(base_name(str(f["key"])), []).append(f)
    return out


def _item(instrument: Instrument, sheets: dict[str, SheetPlan], unit_code: str, raw: dict) -> review.Item:
    if raw["sheet"] not in sheets:
        raise ValueError(f"unknown sheet {raw['sheet']}")
    known = {f.name: f for f in sheets[raw["sheet"]].fields if f.prefill is None}
    fields = tuple(_field(instrument, known[name], parts) for name, parts in _by_field(raw["fields"]).items()
                   if name in known)
    blob = json.dumps([instrument.name, raw], ensure_ascii=False, sort_keys=True).encode("utf-8")
    return review.Item(hashlib.sha256(blob).hexdigest()[:12], unit_code, raw["sheet"], int(raw["workbook_row"]),
                       *_place(raw), fields)


def _place(raw: dict) -> tuple[str, int, str, tuple[str, ...]]:
    """(ref, page, crop, issues) of a raw item."""
    return (str(raw.get("ref") or ""), int(raw.get("page") or 0), str(raw.get("crop") or ""),
            tuple(str(t) for t in raw.get("issues") or ()))


def _confidence(parts: list[dict]) -> float | None:
    found = [float(p["confidence"]) for p in parts if p.get("confidence") is not None]
    return min(found) if found else None


def _joined(parts: list[dict], key: str) -> list:
    return [x for p in parts for x in p.get(key) or ()]


def _inked(marks: tuple[str, ...]) -> bool:
    """Any digit-row box not empty (the clerk keys the number from the crop)."""
    return any(m not in ("", "empty") for m in marks)


def _field(instrument: Instrument, f, parts: list[dict]) -> review.Field:
    """One instrument field from its layout keys' parts (lines of tick boxes merged; digit rows keyed as text)."""
    answer = answer_for(instrument, f)
    written = any(bool(p.get("written")) for p in parts)
    marks = tuple(str(m) for m in _joined(parts, "marks"))
    if answer.kind in ("digits", "write") or parts[0].get("kind") != review.TICKS:
        return review.Field(f.name, review.WRITE, (), "", _confidence(parts), (), written or _inked(marks))
    options = tuple(review.Option(str(o["label"]), str(o["value"])) for o in _joined(parts, "options"))
    value = next((str(p["value"]) for p in parts if p.get("value") is not None), "")
    return review.Field(f.name, MULTIPLE if answer.multiple else review.TICKS, options, value, _confidence(parts),
                        marks, written)


def _refused(f: review.Field, label: str, got: str) -> ChouyangError:
    return ChouyangError(f"「{label}」只能选择：{'、'.join(o.label for o in f.options)}（收到：{got}）")


def _several(f: review.Field, form, label: str) -> str:
    chosen = {str(v).strip() for v in form.getlist(f"f.{f.key}")} - {""}
    wrong = sorted(chosen - set(f.values))
    if wrong:
        raise _refused(f, label, "、".join(wrong))
    return " ".join(v for v in dict.fromkeys(f.values) if v in chosen)


def _one(f: review.Field, form, label: str) -> str:
    text = str(form.get(f"f.{f.key}", "")).strip()
    if f.kind == review.TICKS and text and text not in f.values:
        raise _refused(f, label, text)
    if len(text) > review.MAX_TEXT:
        raise ChouyangError(f"「{label}」超过 {review.MAX_TEXT} 个字符")
    return text


def decision_values(item: review.Item, form, labels: Mapping[str, str]) -> dict[str, str]:
    """The values a clerk gave an item (form field `f.<name>`; several for MULTIPLE), checked against its options."""
    return {f.key: (_several if f.kind == MULTIPLE else _one)(f, form, labels.get(f.key, f.key)) for f in item.fields}


def field_labels(instrument: Instrument) -> dict[str, str]:
    return {f.name: f.label for f in instrument.fields()}


def _column(plan: SheetPlan, ws, item: review.Item, name: str) -> int:
    """The column read back for field `name` on the item's row, refusing a row that is not the item's."""
    if not plan.table:
        if str(ws.cell(item.row, _NAME_COLUMN).value or "") != name:
            raise ChouyangError(f"{plan.label} 第 {item.row} 行不是题目 {name}：工作簿与核对清单不一致（是否重新扫描过？）")
        return _ANSWER_COLUMN
    names = [n for n, _ in table_columns(plan)]
    key = plan.group.key or "ref"
    if item.ref and key in names and str(ws.cell(item.row, names.index(key) + 1).value or "") != item.ref:
        raise ChouyangError(f"{plan.label} 第 {item.row} 行不是编号 {item.ref}：工作簿与核对清单不一致（是否重新扫描过？）")
    return names.index(name) + 1


def write_decisions(instrument: Instrument, wb, decided: list[tuple[review.Item, dict[str, str]]]) -> None:
    """Write decided values into the unit's instrument workbook at each item's sheet, row and field's column."""
    sheets = plans(instrument)
    fields = {f.name: f for f in instrument.fields()}
    for item, values in decided:
        plan = sheets[item.sheet]
        if plan.label not in wb.sheetnames:
            raise ChouyangError(f"{instrument.name} 的扫描工作簿缺少工作表「{plan.label}」")
        ws = wb[plan.label]
        for name, text in values.items():
            cell = ws.cell(item.row, _column(plan, ws, item, name))
            cell.value = review.cell_value(text) if fields[name].type == "integer" else (text or None)
