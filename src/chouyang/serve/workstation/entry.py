"""The keyed double entry's steps (录入): each clerk's blind pass, then the adjudication and its ingest.

The settled record reaches the store only through `steps.ingest_entries`, in one transaction with
the adjudication record.
"""

from __future__ import annotations

from dataclasses import dataclass

from chouyang import steps
from chouyang.entry import keyed
from chouyang.entry.ingest import IngestResult
from chouyang.errors import ChouyangError
from chouyang.round.folder import Round, utc_now
from chouyang.serve.workstation.core import content_sha256, entered_units, unit_checklist, writing
from chouyang.survey.check_rows import UnitChecklist


@dataclass
class KeyedUnit:
    unit_code: str
    unit_name: str
    township_name: str
    passes: dict[int, keyed.Pass]
    mismatches: int | None
    entered: bool


def keyed_overview(rnd: Round) -> tuple[list[KeyedUnit], list[dict]]:
    """Every primary point's passes, and each clerk's discrepancy rate."""
    rnd.require_unchanged_since_draw()
    with rnd.store() as con:
        found: dict[str, dict[int, keyed.Pass]] = {}
        for p in keyed.passes(con):
            found.setdefault(p.unit_code, {})[p.number] = p
        rates = keyed.clerk_rates(con)
    entered = entered_units(rnd)
    units = []
    for u in rnd.primaries().itertuples():
        ps = found.get(u.unit_code, {})
        both = all(n in ps and ps[n].state == keyed.DONE for n in keyed.PASSES)
        units.append(KeyedUnit(u.unit_code, u.unit_name, u.township_name, ps,
                               len(keyed.compare(ps[1].data, ps[2].data)) if both else None, u.unit_code in entered))
    return units, rates


@dataclass
class KeyedForm:
    unit_code: str
    checklist: UnitChecklist
    number: int | None  # the clerk's pass (None: both taken by others)
    own: keyed.Pass | None
    passes: dict[int, keyed.Pass]


def keyed_form(rnd: Round, unit_code: str, clerk: str) -> KeyedForm:
    """What a clerk sees: their own pass only (blind: never the other clerk's values)."""
    rnd.require_unchanged_since_draw()
    checklist = unit_checklist(rnd, unit_code)
    with rnd.store() as con:
        found = keyed.unit_passes(con, unit_code)
    n = keyed.pass_of(found, clerk)
    return KeyedForm(unit_code, checklist, n, found.get(n) if n else None, found)


def keyed_save(rnd: Round, unit_code: str, clerk: str, form, finish: bool) -> int:
    """Store a clerk's pass (draft or finished); logged with a hash of its content."""
    rnd.require_unchanged_since_draw()
    checklist = unit_checklist(rnd, unit_code)
    with writing(rnd) as con:
        found = keyed.unit_passes(con, unit_code)
        n = keyed.pass_of(found, clerk)
        data = keyed.parse_form(form, checklist, found[n].data if n in found else None)
        n = keyed.save_pass(con, unit_code, clerk, data, finish, utc_now())
        rnd.log("keyed_save", {"unit_code": unit_code, "pass": n, "state": keyed.DONE if finish else keyed.DRAFT,
                               "content_sha256": content_sha256(data), "request": str(form.get("request", ""))[:64]},
                con, user=clerk)
    return n


@dataclass
class Adjudication:
    unit_code: str
    checklist: UnitChecklist
    passes: dict[int, keyed.Pass]
    mismatches: list[keyed.Mismatch]
    base: dict[str, list[dict]]  # the draft being settled, else pass 1 (agreed values are the same in both)
    entered: bool  # results of the unit are already stored (settling then needs "replace")


def adjudication(rnd: Round, unit_code: str) -> Adjudication:
    rnd.require_unchanged_since_draw()
    checklist = unit_checklist(rnd, unit_code)
    with rnd.store() as con:
        found = keyed.unit_passes(con, unit_code)
    for n in keyed.PASSES:
        if n not in found or found[n].state != keyed.DONE:
            raise ChouyangError(f"样本点 {unit_code} 的第 {n} 遍录入还没有提交，暂不能核定")
    base = found[keyed.FINAL].data if keyed.FINAL in found else found[1].data
    return Adjudication(unit_code, checklist, found, keyed.compare(found[1].data, found[2].data), base,
                        unit_code in entered_units(rnd))


def keyed_settle(rnd: Round, unit_code: str, form, user: str, replace: bool = False) -> list[IngestResult]:
    """Settle the mismatches and store the result through `steps.ingest_entries` in one transaction.

    When the validation refuses it, the adjudicator's choices are kept as a draft and nothing is stored.
    """
    adj = adjudication(rnd, unit_code)
    if keyed.FINAL in adj.passes and adj.passes[keyed.FINAL].state == keyed.DONE:
        raise ChouyangError(f"样本点 {unit_code} 已经核定入库")
    resolved, open_ = keyed.resolve(form, adj.mismatches)
    final = keyed.parse_form(resolved, adj.checklist, adj.base)
    if open_:
        _save_final_draft(rnd, unit_code, user, final)
        raise keyed.unresolved_error(open_)
    meta = {"round_id": rnd.rules().round.id, "unit_code": unit_code, "register_fingerprint": rnd.register_fingerprint()}
    entry = keyed.entry_file(meta, adj.checklist, final, f"网页录入（{unit_code}）")

    def record(con) -> None:
        now_found = keyed.unit_passes(con, unit_code)  # checked again inside the write transaction
        if keyed.FINAL in now_found and now_found[keyed.FINAL].state == keyed.DONE:
            raise ChouyangError(f"样本点 {unit_code} 刚刚已由 {now_found[keyed.FINAL].clerk} 核定入库")
        keyed.save_final(con, unit_code, user, final, keyed.DONE, utc_now())
        keyed.record_errors(con, unit_code, adj.passes, final)
        rnd.log("keyed_settle", {"unit_code": unit_code, "mismatches": len(adj.mismatches),
                                 "clerks": {n: adj.passes[n].clerk for n in keyed.PASSES},
                                 "content_sha256": content_sha256(final)}, con, user=user)

    try:
        return steps.ingest_entries(rnd, [entry], replace=replace, user=user, also=record)
    except ChouyangError:
        _save_final_draft(rnd, unit_code, user, final)
        raise


def _save_final_draft(rnd: Round, unit_code: str, user: str, final: dict) -> None:
    with writing(rnd) as con:
        keyed.save_final(con, unit_code, user, final, keyed.DRAFT, utc_now())
