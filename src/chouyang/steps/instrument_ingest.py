"""Entering responses of a round's own instruments: ODK Central / KoboToolbox CSV exports and filled
instrument workbooks (entry/<unit>.<NAME>.xlsx, scan/<unit>.<NAME>.xlsx), stored in instrument_responses.

The rules are the survey workbooks' (steps/entering.py): everything is read and validated first, and
any problem refuses the whole import (nothing stored, every problem located); then one transaction
stores every response and writes one audit log entry.  A point whose stored response has the same
content is unchanged (a file imported twice changes nothing and says so); different content for a
point that has a response is refused unless `replace` (the old content goes into the log).  A response
is for a primary sample point of the round (its unit_code); one import holds one response per point.
The submission id of a phone submission (ODK instanceID / KEY) is stored with its response.
"""

from __future__ import annotations

from dataclasses import dataclass
from dataclasses import replace as copy
from datetime import date
from pathlib import Path

from chouyang.errors import ChouyangError, Problem
from chouyang.instruments.model import ROWS_REGISTER, Instrument
from chouyang.instruments.responses import Response
from chouyang.round import store
from chouyang.round.folder import Round, utc_now
from chouyang.steps.instruments import own_instruments

NEW, UNCHANGED, REPLACED = "new", "unchanged", "replaced"


@dataclass(frozen=True)
class InstrumentIngest:
    """What became of one response (as entry.ingest.IngestResult for survey workbooks)."""

    instrument: str
    unit_code: str
    source: str
    status: str              # new | unchanged | replaced
    submission: str = ""
    kind: str = "instrument"


def point_instrument(rnd: Round, name: str) -> Instrument:
    """A round's own instrument asked once per sample point (what can be entered from a phone or a workbook)."""
    own = own_instruments(rnd.path)
    if name not in own:
        builtin = "内置调查表的结果用录入工作簿录入（chouyang ingest ROUND 工作簿）；" if name in ("survey", "checklist") else ""
        raise ChouyangError(f"本轮没有名为 {name} 的自有调查表（{builtin}本轮的：{'、'.join(own) or '无'}）")
    if own[name].per != "point":
        raise ChouyangError(f"调查表 {name} 不是按样本点填写的，暂不能录入（只支持按样本点填写的调查表）")
    return own[name]


def _with_unit(instrument: Instrument, r: Response) -> Response:
    """Every medium stores the point's unit_code in the field of that name, when the instrument has one."""
    if any(f.name == "unit_code" for f in instrument.fields()):
        return copy(r, values={**r.values, "unit_code": r.unit_code})
    return r


def _with_register(instrument: Instrument, r: Response, checklist) -> Response:
    """A register repeat's rows carry the register's values of their row (by key), never what a form says (as web entry)."""
    from chouyang.entry.instrument_entry import prefilled_rows

    given = prefilled_rows(instrument, checklist)
    rows = dict(r.rows)
    for group in instrument.repeats():
        if group.rows == ROWS_REGISTER and group.key:
            register = {row.get(group.key): row for row in given.get(group.name, [])}
            rows[group.name] = [{**row, **register.get(row.get(group.key), {})} for row in r.rows.get(group.name, [])]
    return copy(r, rows=rows)


def _one_per_point(responses: list[Response], where) -> list[Problem]:
    """Two responses for one point in one import: which one is meant cannot be guessed."""
    first: dict[tuple[str, str], Response] = {}
    problems = []
    for r in responses:
        key = (r.instrument, r.unit_code)
        if key in first:
            problems.append(where(r, f"样本点 {r.unit_code} 已有一份（{first[key].submission or first[key].source}），"
                                     "同一次录入中一个样本点只能有一份"))
        first.setdefault(key, r)
    return problems


def ingest_submissions(rnd: Round, paths: list[Path], instrument: str, replace: bool = False,
                       user: str | None = None, today: date | None = None) -> list[InstrumentIngest]:
    """ODK Central / KoboToolbox CSV exports of one instrument's submissions, validated whole, stored together."""
    from chouyang.instruments.odk import read_submissions

    rnd.require_unchanged_since_draw()
    inst = point_instrument(rnd, instrument)
    units = set(rnd.primaries().unit_code)
    responses, problems, notes = [], [], []
    for path in paths:
        try:
            found = read_submissions(inst, Path(path), today=today, units=units)
        except ChouyangError as exc:
            problems += exc.problems or [Problem(Path(path).name, exc.headline)]
            continue
        responses += [_with_unit(inst, r) for r in found]
        notes += found.notes
    problems += _one_per_point(responses, lambda r, m: Problem(r.source, m, column="unit_code", value=r.submission))
    if problems:
        raise ChouyangError("提交数据被拒绝，数据库没有任何改动。请改正以下问题后重新导入", problems)
    return store_responses(rnd, inst, responses, replace, user, "ingest_submissions",
                           {"files": [str(p) for p in paths], "notes": notes})


def instrument_workbook_name(path: Path) -> str | None:
    """The instrument a filled workbook is of (its hidden _meta sheet), or None for any other file."""
    path = Path(path)
    if path.suffix.lower() != ".xlsx" or not path.is_file():
        return None
    from chouyang.xlsx import open_for_reading, read_meta

    try:
        wb = open_for_reading(path)
    except ChouyangError:
        return None   # the survey reader reports a broken file
    try:
        meta = read_meta(wb)
    finally:
        wb.close()
    return meta.get("instrument") or None


def read_workbooks(rnd: Round, paths: list[Path], today: date | None = None) -> tuple[list[Response], list[Problem]]:
    """Filled instrument workbooks of this round's points, validated (every problem of every file)."""
    from chouyang.render.instrument_workbook import read_instrument_workbook
    from chouyang.xlsx import open_for_reading, read_meta

    units = set(rnd.primaries().unit_code)
    round_id = rnd.rules().round.id
    checklists = rnd.checklists()
    responses, problems = [], []
    for path in map(Path, paths):
        name = instrument_workbook_name(path)
        try:
            inst = point_instrument(rnd, name)
            wb = open_for_reading(path)
            meta = read_meta(wb)
            wb.close()
            _identity(path.name, meta, round_id, units)
            response = read_instrument_workbook(inst, path, today=today)
            responses.append(_with_register(inst, _with_unit(inst, response), checklists[response.unit_code]))
        except ChouyangError as exc:
            problems += exc.problems or [Problem(path.name, exc.headline)]
    problems += _one_per_point(responses, lambda r, m: Problem(r.source, m))
    return responses, problems


def _identity(file: str, meta: dict[str, str], round_id: str, units: set[str]) -> None:
    if meta.get("round_id") != round_id:
        raise ChouyangError(f"{file}：这是轮次 {meta.get('round_id') or '（未知）'} 的工作簿，不是本轮（{round_id}）的")
    if meta.get("unit_code") not in units:
        raise ChouyangError(f"{file}：样本点 {meta.get('unit_code')} 不是本轮的样本点")


def ingest_workbooks(rnd: Round, paths: list[Path], replace: bool = False, user: str | None = None,
                     today: date | None = None) -> list[InstrumentIngest]:
    """Filled instrument workbooks alone (steps.ingest stores them together with survey workbooks)."""
    rnd.require_unchanged_since_draw()
    responses, problems = read_workbooks(rnd, paths, today)
    if problems:
        raise ChouyangError("录入被拒绝，数据库没有任何改动。请改正以下问题后重新录入", problems)
    return store_all(rnd, responses, replace, user)


def store_all(rnd: Round, responses: list[Response], replace: bool, user: str | None = None, con=None
              ) -> list[InstrumentIngest]:
    """Store validated workbook responses of any of the round's instruments, one log entry per instrument."""
    own = own_instruments(rnd.path)
    out = []
    for name in sorted({r.instrument for r in responses}):
        mine = [r for r in responses if r.instrument == name]
        detail = {"files": sorted({r.source for r in mine})}
        out += store_responses(rnd, own[name], mine, replace, user, "ingest_instrument", detail, con)
    return out


def store_responses(rnd: Round, inst: Instrument, responses: list[Response], replace: bool, user: str | None,
                    action: str, detail: dict, con=None) -> list[InstrumentIngest]:
    """One transaction (or the caller's `con`): unchanged responses are left, new ones stored, changed ones need
    `replace`; one log entry when anything changed."""
    if con is None:
        with rnd.store(immediate=True) as own:
            return store_responses(rnd, inst, responses, replace, user, action, detail, own)
    stored = store.stored_digests(con, inst.name)
    outcome, changed = [], []
    for r in responses:
        status, digest = _status(inst, r, stored, replace)
        if status != UNCHANGED:
            old_response = store.stored_response(con, inst.name, r.unit_code, r.key) if status == REPLACED else None
            store.store_response(con, r, utc_now())
            changed.append({"unit_code": r.unit_code, "status": status, "submission": r.submission, "content_sha256": digest,
                            "old": store.response_data(old_response) if old_response else None})
        outcome.append(InstrumentIngest(inst.name, r.unit_code, r.source, status, r.submission))
    if changed:
        rnd.log(action, {"instrument": inst.name, **detail, "responses": changed}, con, user=user)
    return outcome


def _status(inst: Instrument, r: Response, stored: dict, replace: bool) -> tuple[str, str]:
    """(new | unchanged | replaced, content hash) of one response against the stored ones; refused when it would
    replace without `replace`."""
    digest = store.content_sha256(store.response_data(r))
    old = stored.get((r.unit_code, r.key))
    if old is None:
        return NEW, digest
    if old[0] == digest:
        return UNCHANGED, digest
    if not replace:
        what = "另一份提交" if r.submission and old[1] and old[1] != r.submission else "不同的内容"
        raise ChouyangError(f"样本点 {r.unit_code} 的调查表 {inst.name} 已经录入过，这次是{what}（{r.source}）。"
                            "如确需用新内容替换，请加 --replace（旧值会保留在日志中）。数据库没有任何改动。")
    return REPLACED, digest
