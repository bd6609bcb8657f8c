"""A page's rows as read: every field's boxes judged, write-in boxes checked for ink, and the values and
review reasons of each row.

Write-in boxes (names, ID numbers, dates, notes) are never read: any ink in one sends its row to
review.  Nothing decisive is handwritten on the form.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from chouyang import vocab
from chouyang.scan.boxes import box_batches
from chouyang.scan.marks import EMPTY, FILLED, MARKED, UNCERTAIN, box_features, judge_group
from chouyang.scan.sampler import STEP, PageSampler

WRITE_INK, WRITE_SPECK = 0.5, 0.2  # mm^2 of ink in a write-in box: written / maybe written


@dataclass
class FieldRead:
    """One field of one row as read: ticks (one state per option) or a write-in box."""

    key: str
    kind: str  # ticks | write
    label: str
    options: list[dict]
    states: list[str] = field(default_factory=list)
    ink: list[float] = field(default_factory=list)
    confidence: float = 1.0
    written: bool = False  # write-in: ink found
    open_top: bool = False
    confirm_top: bool = False


# --- reading ------------------------------------------------------------------------

def read_rows(sampler: PageSampler, rows: list[dict]) -> list[dict]:
    """Every field of every row of a page: tick groups judged, write-in boxes checked for ink."""
    out = [{k: row[k] for k in ("ref", "section", "blank_index", "y", "h", "header")} | {"fields": {}}
           for row in rows]
    for (r, key), read in _read_tick_groups(sampler, rows):
        out[r]["fields"][key] = read
    writes = [(r, key, f) for r, row in enumerate(rows) for key, f in row["fields"].items() if f["kind"] == "write"]
    for (r, key, _), read in zip(writes, _read_write_boxes(sampler, [(key, f) for _, key, f in writes])):
        out[r]["fields"][key] = read
    for r, row in enumerate(rows):  # keep the layout's column order
        out[r]["fields"] = {key: out[r]["fields"][key] for key in row["fields"]}
    return out


def _read_tick_groups(sampler: PageSampler, rows: list[dict]) -> list[tuple[tuple[int, str], FieldRead]]:
    """((row index, field key), read) of every tick group of the page, batch by batch of one box size."""
    where = [(r, key) for r, row in enumerate(rows) for key, f in row["fields"].items() if f["kind"] == "ticks"]
    groups = [(rows[r], rows[r]["fields"][key]) for r, key in where]
    out = []
    for batch, members in box_batches(groups):
        features = box_features(sampler, batch).tolist()
        ends = list(batch.starts[1:]) + [len(features)]
        for g, start, end in zip(members, batch.starts, ends):
            f = groups[g][1]
            states, ink, conf = judge_group(features[start:end])
            out.append((where[g], FieldRead(where[g][1], "ticks", f["label"], f["options"], states, ink, conf,
                                            open_top=f.get("open_top", False),
                                            confirm_top=f.get("confirm_top", False))))
    return out


def _read_write_boxes(sampler: PageSampler, boxes: list[tuple[str, dict]]) -> list[FieldRead]:
    """Ink in write-in boxes (1 mm inside their borders), as mm^2 of full-black equivalent."""
    if not boxes:
        return []
    hgt, wid = sampler.dark.shape
    inks = []
    for _, f in boxes:
        (c0, c1), (r0, r1) = (np.rint(v).astype(int) for v in sampler.index(
            [f["x"] + 1.0, f["x"] + f["w"] - 1.0], [f["y"] + 1.0, f["y"] + f["h"] - 1.0]))
        patch = sampler.dark[max(r0, 0):min(r1, hgt), max(c0, 0):min(c1, wid)]
        inks.append(float(np.clip((patch - 0.2) / 0.5, 0, 1).sum()) * STEP * STEP)
    out = []
    for (key, f), ink in zip(boxes, inks):
        written = ink >= WRITE_SPECK
        conf = min(1.0, 0.5 + abs(ink - (WRITE_INK + WRITE_SPECK) / 2) / (WRITE_INK + WRITE_SPECK))
        out.append(FieldRead(key, "write", f["label"], [], [], [round(ink, 3)], conf, written))
    return out


# --- a row's values -----------------------------------------------------------------

def field_value(read: FieldRead) -> tuple[str | int, list[str]]:
    """The value a tick group stores ('' for none) and what is wrong with it."""
    marked = [o for o, s in zip(read.options, read.states) if s == MARKED]
    value = marked[0]["value"] if len(marked) == 1 else ""
    issues = _mark_issues(read, marked)
    if value != "" and read.confirm_top and marked[0] is read.options[-1]:
        issues.append(f"「{read.label}」勾选了「{marked[0]['label']}」，按 {value} 录入；实际更多时请改正")
    return value, issues


def _mark_issues(read: FieldRead, marked: list[dict]) -> list[str]:
    """Unclear boxes, two marks, a cancelled box with no other mark."""
    label = read.label
    unclear = [o["label"] for o, s in zip(read.options, read.states) if s == UNCERTAIN]
    filled = [o["label"] for o, s in zip(read.options, read.states) if s == FILLED]
    issues = []
    if unclear:
        issues.append(f"「{label}」标记不清（{'、'.join(unclear)}）")
    if len(marked) > 1:
        issues.append(f"「{label}」同时勾选了 {'、'.join(o['label'] for o in marked)}")
    if filled and not marked:
        issues.append(f"「{label}」涂黑作废了 {'、'.join(filled)}，未另行勾选")
    return issues


def interpret_row(row: dict) -> tuple[dict, list[str]]:
    """Entry values read from one form row, and the reasons it needs review."""
    values, issues = {}, []
    for key, read in row["fields"].items():
        if read.kind == "write":
            if read.written:
                issues.append(f"「{read.label}」有手写内容，请人工录入")
            continue
        values[key], found = field_value(read)
        issues += found
    if row["ref"] is None:  # a blank row for a new (missed) case
        marks = any(s != EMPTY for f in row["fields"].values() for s in f.states)
        if issues or marks:
            issues.insert(0, "新发现的一行，请核对并补录手写内容")
        return values, issues
    return values, issues + _check_row_issues(row["section"], values, issues)


def _check_row_issues(section: str, values: dict, issues: list[str]) -> list[str]:
    """A register row needs a result, and an error result its witnesses and verification."""
    more = []
    result = values.get("result", "")
    label = vocab.ENTRY_LABELS["result"]
    if result == "" and not any(f"「{label}」" in t for t in issues):
        more.append("未勾选核实结果")
    if vocab.is_error(section, result):
        if values.get("witnesses", "") == "":
            more.append("误差行没有勾选反映群众人数")
        if values.get("verified", "") == "":
            more.append("误差行没有勾选调查组是否查实")
    return more

