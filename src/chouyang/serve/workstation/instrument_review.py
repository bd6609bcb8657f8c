"""The review queue's steps for the round's own instruments' scanned pages (issue 18), as workstation/review.py
does them for the survey: decisions stored and logged, written into scan/<unit>.<NAME>.xlsx in the background,
the workbook ingested through `steps.ingest` once the unit has no open item left.

Decisions live in the survey's table under the key "<unit>.<NAME>" (instrument_key), so they never mix with
the survey's decisions on the same unit.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import openpyxl

from chouyang import steps
from chouyang.entry.ingest import IngestResult
from chouyang.errors import ChouyangError
from chouyang.instruments.model import Instrument
from chouyang.round.folder import Round, utc_now
from chouyang.scan import instrument_review as adapter
from chouyang.scan import review
from chouyang.serve.workstation.core import writing
from chouyang.serve.workstation.review import Decided, ReviewState, workbook_lock
from chouyang.serve.workstation.workbooks import WorkbookWriter
from chouyang.xlsx import save_workbook


def instrument_key(name: str, unit_code: str) -> str:
    return f"{unit_code}.{name}"


def review_instrument(rnd: Round, name: str) -> Instrument:
    from chouyang.steps.instrument_forms import point_instruments

    found = point_instruments(rnd).get(name)
    if found is None:
        raise ChouyangError(f"本轮没有名为 {name} 的按样本点填写的调查表")
    return found


def instrument_review_units(rnd: Round) -> list[tuple[str, str]]:
    """(instrument name, unit) of every review list the scan wrote under scan/review/<NAME>/."""
    from chouyang.steps.instrument_forms import point_instruments

    folder = rnd.scan_dir / "review"
    if not folder.exists():
        return []
    names = point_instruments(rnd)
    return sorted((p.parent.name, p.stem) for p in folder.glob("*/*.json") if p.parent.name in names)


def instrument_items(rnd: Round, name: str, unit_code: str) -> list[review.Item]:
    instrument = review_instrument(rnd, name)   # before any path is built from the name
    path = rnd.scan_dir / "review" / name / f"{unit_code}.json"
    if not path.exists():
        return []
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ChouyangError(f"无法读取核对清单 review/{name}/{path.name}：{exc}") from None
    return adapter.read_items(instrument, unit_code, data, f"review/{name}/{path.name}")


@dataclass
class InstrumentReviewUnit:
    name: str
    title: str
    unit_code: str
    items: int
    open: int
    illegible: int
    entered: bool
    workbook_error: str = ""


def entered_pairs(rnd: Round) -> set[tuple[str, str]]:
    from chouyang.round import store as db

    with rnd.store() as con:
        return {(i, u) for i in db.response_instruments(con) for u, _ in db.stored_digests(con, i)}


def instrument_review_overview(rnd: Round) -> list[InstrumentReviewUnit]:
    with rnd.store() as con:
        decided = review.decisions(con)
    entered = entered_pairs(rnd)
    out = []
    for name, unit in instrument_review_units(rnd):
        items, d = instrument_items(rnd, name, unit), decided.get(instrument_key(name, unit), {})
        out.append(InstrumentReviewUnit(
            name, review_instrument(rnd, name).title, unit, len(items), sum(review.is_open(i, d) for i in items),
            sum(i.id in d and d[i.id].state == review.ILLEGIBLE for i in items), (name, unit) in entered,
            WORKBOOKS.failures.get((str(rnd.path), instrument_key(name, unit)), "")))
    return out


def instrument_review_state(rnd: Round, name: str, unit_code: str) -> ReviewState:
    items = instrument_items(rnd, name, unit_code)
    key = instrument_key(name, unit_code)
    with rnd.store() as con:
        decided = review.decisions(con, key).get(key, {})
    return ReviewState(items, decided)


def write_instrument_review_workbook(rnd: Round, key: str) -> Path:
    """Write every accepted decision on "<unit>.<NAME>" into scan/<unit>.<NAME>.xlsx (the store is the source of truth)."""
    unit_code, name = key.split(".", 1)
    path = rnd.scan_dir / f"{unit_code}.{name}.xlsx"
    if not path.exists():
        raise ChouyangError(f"找不到扫描识别生成的工作簿 scan/{path.name}")
    with workbook_lock(key):   # the survey review's per-workbook lock ("<unit>.<NAME>" never equals a unit code)
        state = instrument_review_state(rnd, name, unit_code)
        decided = [(i, state.decisions[i.id].values) for i in state.items
                   if i.id in state.decisions and state.decisions[i.id].state == review.ACCEPTED]
        wb = openpyxl.load_workbook(path)
        adapter.write_decisions(review_instrument(rnd, name), wb, decided)
        save_workbook(wb, path)
    return path


WORKBOOKS = WorkbookWriter(write_instrument_review_workbook)


def instrument_review_decide(rnd: Round, name: str, unit_code: str, item_id: str, form, illegible: bool,
                             user: str) -> Decided:
    """Store and log one decision, write it into the workbook, and ingest it once no item is open."""
    rnd.require_unchanged_since_draw()
    instrument = review_instrument(rnd, name)
    labels = adapter.field_labels(instrument)
    key = instrument_key(name, unit_code)
    item = instrument_review_state(rnd, name, unit_code).item(item_id)
    with writing(rnd) as con:
        old = review.decisions(con, key).get(key, {}).get(item.id)
        before = old.values if old is not None and old.state == review.ACCEPTED else item.read_values()
        state, values = ((review.ILLEGIBLE, {}) if illegible else
                         (review.ACCEPTED, adapter.decision_values(item, form, labels)))
        review.store_decision(con, key, item.id, state, values, user, utc_now())
        changes = [{"column": labels.get(k, k), "old": before.get(k, ""), "new": v}
                   for k, v in values.items() if before.get(k, "") != v]
        sheet = adapter.plans(instrument)[item.sheet].label
        rnd.log("review_decision", {"unit_code": unit_code, "instrument": name, "item": item.id, "sheet": sheet,
                                    "row": item.row, "ref": item.ref, "state": state, "changes": changes,
                                    "request": str(form.get("request", ""))[:64]}, con, user=user)
    after = instrument_review_state(rnd, name, unit_code)
    nxt = after.next_open(item.id)
    if after.open_items():
        WORKBOOKS.mark(rnd, key)
        return Decided(nxt.id if nxt else None)
    try:
        return Decided(None, instrument_review_ingest(rnd, name, unit_code, user))
    except ChouyangError as exc:
        return Decided(None, ingest_error=exc)


def instrument_review_ingest(rnd: Round, name: str, unit_code: str, user: str,
                             replace: bool = False) -> list[IngestResult]:
    """Ingest a fully reviewed unit's instrument workbook, exactly as `chouyang ingest scan/<unit>.<NAME>.xlsx` would."""
    state = instrument_review_state(rnd, name, unit_code)
    if state.open_items():
        raise ChouyangError(f"样本点 {unit_code} 的调查表 {name} 还有 {len(state.open_items())} 个核对条目未完成"
                            "（含无法辨认的），暂不能录入")
    path = write_instrument_review_workbook(rnd, instrument_key(name, unit_code))
    return steps.ingest(rnd, [path], replace=replace, user=user)
