"""The feedback lifecycle of an error case: 现场反馈 → 有异议 → 复核 → 确认 / 撤销.

Results are shown to the township before the team leaves (现场反馈, 五公开); the
township may object (有异议); the team re-checks (复核) and the case is then
confirmed (确认) or withdrawn (撤销).  Every change is one row of `case_status`
(who, when, comment), so the history is the table itself; the store
(round/store.py) reads and writes it, this module only decides.

What the status changes in the numbers: a withdrawn case counts nowhere, exactly
like an unconfirmed (待核实) one: no points, no error rate, no correction of
indicators; reports list it as 撤销 with its reason.  No status makes a case
confirmed: confirmation stays the rules' (witnesses and verification), and a
re-check that changes the facts is entered again (`chouyang ingest --replace`).

A status belongs to the facts it was given for: each row keeps the case's
identity (a hash of its entered row without witnesses, verification and note).
If the entries are later replaced and the case's facts differ, the old status no
longer applies and the case is back at 现场反馈, with a note saying so.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import pandas as pd

from chouyang.errors import ChouyangError
from chouyang.survey.cases import MISSED_REF_PREFIX
from chouyang.vocab import CHECK_SHEETS

STATUSES = ("现场反馈", "有异议", "复核", "确认", "撤销")
INITIAL, OBJECTED, RECHECK, CONFIRMED, WITHDRAWN = STATUSES
# Allowed next statuses.  A final status can be reopened for another re-check.
TRANSITIONS = {
    INITIAL: (OBJECTED, CONFIRMED),
    OBJECTED: (RECHECK,),
    RECHECK: (CONFIRMED, WITHDRAWN),
    CONFIRMED: (RECHECK,),
    WITHDRAWN: (RECHECK,),
}
OPEN = (OBJECTED, RECHECK)  # an objection not yet settled
_NOT_FACTS = ("witnesses", "verified", "note")

@dataclass(frozen=True)
class StatusChange:
    unit_code: str
    ref: str
    kind: str
    identity: str
    status: str
    comment: str
    user: str
    time: str


def needs_comment(old: str, new: str) -> bool:
    """An objection, a withdrawal and reopening a final status must say why."""
    return new in (OBJECTED, WITHDRAWN) or old in (CONFIRMED, WITHDRAWN)


def case_row(unit_entries: dict[str, list[dict]], ref: str) -> tuple[str, int, dict] | None:
    """The entered row behind a case ref: (sheet, index from 0, row); None when there is none."""
    for sheet in CHECK_SHEETS:
        for i, row in enumerate(unit_entries.get(sheet, [])):
            if row.get("ref") == ref:
                return sheet, i, row
    for sheet, prefix in MISSED_REF_PREFIX.items():
        number = ref[len(prefix):]
        if ref.startswith(prefix) and number.isdigit():
            rows = unit_entries.get(sheet, [])
            i = int(number) - 1
            if 0 <= i < len(rows):
                return sheet, i, rows[i]
    return None


def case_identity(unit_entries: dict[str, list[dict]], ref: str, kind: str) -> str:
    """A short hash of what the case is about (its entered facts), or "" when the row is gone."""
    found = case_row(unit_entries, ref)
    if found is None:
        return ""
    sheet, _, row = found
    facts = {k: v for k, v in row.items() if k not in _NOT_FACTS}
    blob = json.dumps([kind, sheet, facts], ensure_ascii=False, sort_keys=True).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()[:16]


def latest(changes: list[StatusChange]) -> dict[tuple[str, str], StatusChange]:
    out: dict[tuple[str, str], StatusChange] = {}
    for change in changes:
        out[(change.unit_code, change.ref)] = change
    return out


def current_status(change: StatusChange | None, identity: str) -> tuple[str, str]:
    """A case's status and its note, given its latest change and its present identity."""
    if change is None:
        return INITIAL, ""
    if change.identity != identity:
        return INITIAL, f"录入内容已变更，原状态「{change.status}」不再适用（{change.user} {change.time}）"
    note = f"{change.comment}（{change.user} {change.time}）" if change.comment else f"（{change.user} {change.time}）"
    return change.status, note


def next_status(rows: list[StatusChange], unit_code: str, ref: str, identity: str, new: str,
                comment: str) -> tuple[str, str]:
    """Check that a case may move to `new`, given its history `rows` (oldest first); returns the old
    status and the comment as it is recorded.  The store (round/store.py) writes the change."""
    if new not in STATUSES:
        raise ChouyangError(f"没有「{new}」这个状态（可用：{'、'.join(STATUSES)}）")
    old, _ = current_status(rows[-1] if rows else None, identity)
    if new not in TRANSITIONS[old]:
        raise ChouyangError(f"个案 {unit_code} {ref} 当前状态为「{old}」，不能改为「{new}」"
                            f"（可改为：{'、'.join(TRANSITIONS[old])}）")
    comment = comment.strip()
    if needs_comment(old, new) and not comment:
        raise ChouyangError(f"个案 {unit_code} {ref} 改为「{new}」必须填写说明（异议内容、复核结论或撤销原因）")
    return old, comment


def apply_statuses(cases: pd.DataFrame, entries: dict[str, dict[str, list[dict]]],
                   changes: list[StatusChange]) -> pd.DataFrame:
    """Cases with `status` and `status_note`; a withdrawn case is no longer confirmed."""
    last = latest(changes)
    statuses, notes = [], []
    for c in cases.itertuples():
        identity = case_identity(entries.get(c.unit_code, {}), c.ref, c.kind)
        status, note = current_status(last.get((c.unit_code, c.ref)), identity)
        statuses.append(status)
        notes.append(note)
    out = cases.assign(status=pd.Series(statuses, index=cases.index, dtype=object),
                       status_note=pd.Series(notes, index=cases.index, dtype=object))
    out.loc[out.status == WITHDRAWN, "confirmed"] = 0
    return out


def with_default_status(cases: pd.DataFrame) -> pd.DataFrame:
    """Cases that never went through feedback are at 现场反馈."""
    if "status" in cases.columns:
        return cases
    return cases.assign(status=INITIAL, status_note="")


def scoring_entries(entries: dict[str, dict[str, list[dict]]], cases: pd.DataFrame) -> dict:
    """Entries without the rows of withdrawn cases: what the correction ratios may see."""
    withdrawn = cases[cases.status == WITHDRAWN] if "status" in cases.columns else cases.iloc[0:0]
    drop: dict[str, set[tuple[str, int]]] = {}
    for c in withdrawn.itertuples():
        found = case_row(entries.get(c.unit_code, {}), c.ref)
        if found is not None:
            drop.setdefault(c.unit_code, set()).add(found[:2])
    return {unit: {sheet: [r for i, r in enumerate(rows) if (sheet, i) not in drop.get(unit, set())]
                   for sheet, rows in sheets.items()}
            for unit, sheets in entries.items()}
