"""The error cases of the entered units, the round's progress (status) and each case's feedback status."""

from __future__ import annotations

import pandas as pd

from chouyang.entry.ingest import status_table
from chouyang.errors import ChouyangError
from chouyang.round.folder import Round, user_name, utc_now
from chouyang.round.store import case_history, change_case_status, stored_entries
from chouyang.survey import feedback
from chouyang.survey.cases import cases_frame, unit_cases


def cases(rnd: Round, rules=None, register=None, entries=None) -> pd.DataFrame:
    """Error cases of every entered unit (cases.csv columns before rule and points), with their feedback status."""
    rules = rules or rnd.rules()
    primary = rnd.primaries()
    entries = rnd.entries() if entries is None else entries
    checklists = rnd.checklists(list(entries), register)
    township = dict(zip(primary.unit_code, primary.township_code))
    rows = []
    for unit, sheets in entries.items():
        rows += unit_cases(township[unit], checklists[unit], sheets, rules)
    with rnd.store() as con:
        changes = case_history(con)
    return feedback.apply_statuses(cases_frame(rows), entries, changes)


def status(rnd: Round) -> pd.DataFrame:
    """One row per primary point: team, township, whether results are in, case counts."""
    rnd.require_unchanged_since_draw()
    found = cases(rnd)
    return status_table(rnd.primaries(), rnd.plan(), found[found.status != feedback.WITHDRAWN], set(rnd.entries()))


def set_case_status(rnd: Round, unit_code: str, ref: str, status: str, comment: str = "",
                    user: str | None = None) -> dict:
    """Move a case along 现场反馈 → 有异议 → 复核 → 确认/撤销 (feedback.py); logged with who and why."""
    rnd.require_unchanged_since_draw()
    with rnd.store() as con:
        unit_entries = stored_entries(con, unit_code)
    found = [c for c in _unit_cases(rnd, unit_code, unit_entries) if c["ref"] == ref]
    if not found:
        raise ChouyangError(f"样本点 {unit_code} 没有编号为 {ref} 的误差个案（可用 chouyang status 查看已录入的样本点）")
    kind = found[0]["kind"]
    identity = feedback.case_identity(unit_entries, ref, kind)
    who = user_name(user)
    with rnd.store(immediate=True) as con:
        if feedback.case_identity(stored_entries(con, unit_code), ref, kind) != identity:
            raise ChouyangError(f"个案 {unit_code} {ref} 的录入内容刚刚被改动，请刷新后重试")
        old = change_case_status(con, unit_code, ref, kind, identity, status, comment, who, utc_now())
        change = {"unit_code": unit_code, "ref": ref, "kind": kind, "old": old, "new": status,
                  "comment": comment.strip()}
        rnd.log("case_status", change, con, user=user)
    return change


def _unit_cases(rnd: Round, unit_code: str, unit_entries: dict[str, list[dict]]) -> list[dict]:
    """The cases of one unit's stored entries (empty when the unit has none)."""
    if not unit_entries:
        return []
    primary = rnd.primaries()
    township = dict(zip(primary.unit_code, primary.township_code))
    return unit_cases(township[unit_code], rnd.checklists([unit_code])[unit_code], unit_entries, rnd.rules())
