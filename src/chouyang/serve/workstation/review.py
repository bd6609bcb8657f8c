"""The review queue's steps (核对): the flagged items of a unit, one decision at a time, then its ingest.

Results reach the store only through `steps.ingest` (the validation and single transaction of
`chouyang ingest`); the scan workbook is written in the background (`WORKBOOKS`).
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path

import openpyxl

from chouyang import steps, vocab
from chouyang.entry.ingest import IngestResult
from chouyang.errors import ChouyangError
from chouyang.round.folder import Round, utc_now
from chouyang.scan import review
from chouyang.serve.workstation.core import entered_units, writing
from chouyang.serve.workstation.workbooks import WorkbookWriter
from chouyang.xlsx import save_workbook


def review_units(rnd: Round) -> list[str]:
    folder = rnd.scan_dir / "review"
    return sorted(p.stem for p in folder.glob("*.json")) if folder.exists() else []


def review_items(rnd: Round, unit_code: str) -> list[review.Item]:
    path = rnd.scan_dir / "review" / f"{unit_code}.json"
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ChouyangError(f"无法读取核对清单 {path.name}：{exc}") from None
    return review.read_items(unit_code, data, path.name)


@dataclass
class ReviewUnit:
    unit_code: str
    items: int
    open: int
    illegible: int
    entered: bool
    workbook_error: str = ""


def review_overview(rnd: Round) -> list[ReviewUnit]:
    with rnd.store() as con:
        decided = review.decisions(con)
    entered = entered_units(rnd)
    out = []
    for unit in review_units(rnd):
        items, d = review_items(rnd, unit), decided.get(unit, {})
        out.append(ReviewUnit(unit, len(items), sum(review.is_open(i, d) for i in items),
                              sum(i.id in d and d[i.id].state == review.ILLEGIBLE for i in items), unit in entered,
                              WORKBOOKS.failures.get((str(rnd.path), unit), "")))
    return out


@dataclass
class ReviewState:
    items: list[review.Item]
    decisions: dict[str, review.Decision]

    def item(self, item_id: str) -> review.Item:
        found = next((i for i in self.items if i.id == item_id), None)
        if found is None:
            raise ChouyangError("没有这个核对条目（可能已被新的扫描结果替换），请回到核对清单")
        return found

    def open_items(self) -> list[review.Item]:
        return [i for i in self.items if review.is_open(i, self.decisions)]

    def next_open(self, after: str | None = None) -> review.Item | None:
        """The first open item after `after` (wrapping round), skipping illegible ones when others are open."""
        pending = [i for i in self.open_items() if i.id not in self.decisions] or self.open_items()
        if not pending:
            return None
        ids = [i.id for i in self.items]
        start = ids.index(after) + 1 if after in ids else 0
        ordered = self.items[start:] + self.items[:start]
        return next(i for i in ordered if i in pending)


def review_state(rnd: Round, unit_code: str) -> ReviewState:
    items = review_items(rnd, unit_code)
    with rnd.store() as con:
        decided = review.decisions(con, unit_code).get(unit_code, {})
    return ReviewState(items, decided)


_WORKBOOK_LOCKS: dict[str, threading.Lock] = {}
_LOCKS_GUARD = threading.Lock()


def workbook_lock(unit_code: str) -> threading.Lock:
    with _LOCKS_GUARD:
        return _WORKBOOK_LOCKS.setdefault(unit_code, threading.Lock())


def write_review_workbook(rnd: Round, unit_code: str) -> Path:
    """Write every accepted decision of a unit into scan/<unit>.xlsx (the store is the source of truth).

    One writer per workbook at a time; each writes all decisions read after taking the lock,
    so the last save always holds every decision.
    """
    path = rnd.scan_dir / f"{unit_code}.xlsx"
    if not path.exists():
        raise ChouyangError(f"找不到扫描识别生成的工作簿 scan/{unit_code}.xlsx")
    with workbook_lock(unit_code):
        state = review_state(rnd, unit_code)
        decided = [(i, state.decisions[i.id].values) for i in state.items
                   if i.id in state.decisions and state.decisions[i.id].state == review.ACCEPTED]
        wb = openpyxl.load_workbook(path)
        review.write_decisions(wb, decided)
        save_workbook(wb, path)
    return path


WORKBOOKS = WorkbookWriter(write_review_workbook)


@dataclass
class Decided:
    next_item: str | None
    ingested: list[IngestResult] = field(default_factory=list)
    ingest_error: ChouyangError | None = None


def review_decide(rnd: Round, unit_code: str, item_id: str, form, illegible: bool, user: str) -> Decided:
    """Store one decision (logged with the values read and the values chosen), write it into the workbook,
    and ingest the workbook through `steps.ingest` once the unit has no open item left."""
    rnd.require_unchanged_since_draw()
    item = review_state(rnd, unit_code).item(item_id)
    with writing(rnd) as con:
        old = review.decisions(con, unit_code).get(unit_code, {}).get(item.id)
        before = old.values if old is not None and old.state == review.ACCEPTED else item.read_values()
        state, values = ((review.ILLEGIBLE, {}) if illegible else
                         (review.ACCEPTED, review.decision_values(item, form, before)))
        review.store_decision(con, unit_code, item.id, state, values, user, utc_now())
        changes = [{"column": vocab.label_for(item.sheet, k), "old": before.get(k, ""), "new": v}
                   for k, v in values.items() if before.get(k, "") != v]
        rnd.log("review_decision", {"unit_code": unit_code, "item": item.id, "sheet": vocab.SHEETS[item.sheet],
                                    "row": item.row, "ref": item.ref, "state": state, "changes": changes,
                                    "request": str(form.get("request", ""))[:64]}, con, user=user)
    state_after = review_state(rnd, unit_code)
    nxt = state_after.next_open(item.id)
    if state_after.open_items():
        WORKBOOKS.mark(rnd, unit_code)
        return Decided(nxt.id if nxt else None)
    try:
        return Decided(None, review_ingest(rnd, unit_code, user))
    except ChouyangError as exc:
        return Decided(None, ingest_error=exc)


def review_ingest(rnd: Round, unit_code: str, user: str, replace: bool = False) -> list[IngestResult]:
    """Ingest a fully reviewed unit's workbook, exactly as `chouyang ingest scan/<unit>.xlsx` would."""
    state = review_state(rnd, unit_code)
    if state.open_items():
        raise ChouyangError(f"样本点 {unit_code} 还有 {len(state.open_items())} 个核对条目未完成（含无法辨认的），暂不能录入")
    path = write_review_workbook(rnd, unit_code)
    return steps.ingest(rnd, [path], replace=replace, user=user)
