"""Round-level steps of the web workstation (`chouyang serve`): what its routes call.

The same shape as steps/: load through the Round, call pure functions
(progress, review, keyed, feedback), write through the Round's store in one
`BEGIN IMMEDIATE` transaction per write, and log every write with the web
user's name.  Results reach the store only through `steps.ingest` /
`steps.ingest_entries` (the validation and single transaction of
`chouyang ingest`), case statuses only through `steps.set_case_status` (the
same function as `chouyang case`), scores only through `steps.score`.
"""

from __future__ import annotations

import hashlib
import json
import re
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import openpyxl
import pandas as pd

from chouyang import steps, vocab
from chouyang.entry import keyed
from chouyang.entry.ingest import IngestResult
from chouyang.errors import ChouyangError
from chouyang.inputs import readers as inp
from chouyang.render.report import write_feedback_pdf
from chouyang.round import store as db
from chouyang.round.folder import Round, utc_now
from chouyang.scan import review
from chouyang.serve import accounts
from chouyang.survey import feedback, progress
from chouyang.survey.check_rows import UnitChecklist
from chouyang.survey.deductions import assign_points, township_deductions
from chouyang.xlsx import save_workbook

REPORT_FILES = ("report.pdf", "report.xlsx", "townships.csv", "cases.csv", "county.csv", "township_intervals.csv")


_WRITE_LOCK = threading.Lock()


@contextmanager
def _writing(rnd: Round):
    """One write transaction (BEGIN IMMEDIATE), queued in this process first.

    SQLite makes a blocked writer sleep and retry; with many clerks' requests at once that
    retrying, not the writes, made the slowest answers take seconds.  A lock here queues this
    server's writers in order; the store's busy timeout still covers other processes (the CLI).
    """
    with _WRITE_LOCK, rnd.store(immediate=True) as con:
        yield con


# --- users -------------------------------------------------------------------------

def has_users(rnd: Round) -> bool:
    return bool(steps.users(rnd))


def login(rnd: Round, name: str, password: str) -> bool:
    with rnd.store() as con:
        return accounts.verify_password(con, name, password)


# --- progress (进度) -----------------------------------------------------------------

def scan_pages(rnd: Round) -> dict[str, tuple[int, int | None]]:
    """Scan pages received (by the latest scan of each unit) and expected (its form's page count)."""
    expected = {unit: len(layout.get("pages", [])) for unit, layout in rnd.layouts().items()}
    received: dict[str, int] = {}
    for entry in rnd.log_entries("scan"):
        received.update({u: int(n) for u, n in entry["detail"].get("units", {}).items()})
    units = set(expected) | set(received)
    return {u: (received.get(u, 0), expected.get(u)) for u in units}


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


def open_review_counts(rnd: Round) -> dict[str, int]:
    with rnd.store() as con:
        decided = review.decisions(con)
    return {u: sum(review.is_open(i, decided.get(u, {})) for i in review_items(rnd, u)) for u in review_units(rnd)}


def progress_fingerprint(rnd: Round) -> tuple:
    """Changes whenever anything the dashboard shows may have changed (store, scans, forms)."""
    paths = [rnd.store_path, rnd.scan_dir / "review", rnd.forms_dir, rnd.plan_path]
    paths += sorted((rnd.scan_dir / "review").glob("*.json")) if (rnd.scan_dir / "review").exists() else []
    return tuple((str(p), p.stat().st_mtime_ns, p.stat().st_size) for p in paths if p.exists())


@dataclass
class Progress:
    units: pd.DataFrame
    by_team_day: pd.DataFrame
    by_township: pd.DataFrame
    totals: dict[str, int]


def progress_view(rnd: Round) -> Progress:
    rnd.require_unchanged_since_draw()
    entries = rnd.entries()
    units = progress.unit_progress(rnd.primaries(), rnd.plan(), set(entries),
                                   steps.cases(rnd, register=_register(rnd), entries=entries),
                                   scan_pages(rnd), open_review_counts(rnd))
    return Progress(units, progress.rollup(units, ["team_id", "date", "township_code"]),
                    progress.rollup(units, ["township_code"]), progress.totals(units))


# --- review queue (核对) -------------------------------------------------------------

@dataclass
class ReviewUnit:
    unit_code: str
    items: int
    open: int
    illegible: int
    entered: bool
    workbook_error: str = ""


def entered_units(rnd: Round) -> set[str]:
    """The points whose results are stored (from any source)."""
    with rnd.store() as con:
        return set(db.ingested_units(con))


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


def _workbook_lock(unit_code: str) -> threading.Lock:
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
    with _workbook_lock(unit_code):
        state = review_state(rnd, unit_code)
        decided = [(i, state.decisions[i.id].values) for i in state.items
                   if i.id in state.decisions and state.decisions[i.id].state == review.ACCEPTED]
        wb = openpyxl.load_workbook(path)
        review.write_decisions(wb, decided)
        save_workbook(wb, path)
    return path


class WorkbookWriter:
    """Writes decisions into the scan workbooks after the request has been answered.

    Loading and saving a workbook takes most of a second, far longer than storing a decision;
    clerks deciding one item after another should not wait for it.  A unit marked dirty is
    written DELAY seconds later, once for every decision made meanwhile.  Before an ingest the unit is written in
    the request itself (`write_review_workbook`), and `flush` writes every pending unit (at
    shutdown, in tests).  A failed write is kept and shown on the review list; the store stays
    the source of truth, so a later write repairs it.
    """

    DELAY = 3.0

    def __init__(self):
        self._pending: dict[tuple[str, str], tuple[Round, float]] = {}  # -> (round, when first marked)
        self._flushing = False
        self._busy = 0
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self.failures: dict[tuple[str, str], str] = {}

    def mark(self, rnd: Round, unit_code: str) -> None:
        with self._cond:
            self._pending.setdefault((str(rnd.path), unit_code), (rnd, time.monotonic()))
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._run, name="chouyang-workbooks", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                while True:
                    due = min((t for _, t in self._pending.values()), default=None)
                    if due is not None and (self._flushing or time.monotonic() >= due + self.DELAY):
                        break
                    self._cond.wait(None if due is None else max(0.0, due + self.DELAY - time.monotonic()))
                key = min(self._pending, key=lambda k: self._pending[k][1])
                rnd, _ = self._pending.pop(key)
                self._busy += 1
            try:
                write_review_workbook(rnd, key[1])
                self.failures.pop(key, None)
            except Exception as exc:  # kept and shown on the review list; the store still holds every decision
                self.failures[key] = str(exc)
            finally:
                with self._cond:
                    self._busy -= 1
                    self._cond.notify_all()

    def flush(self, timeout: float = 120.0) -> None:
        """Wait until every pending workbook is written."""
        with self._cond:
            self._flushing = True
            self._cond.notify_all()
            try:
                self._cond.wait_for(lambda: not self._pending and not self._busy, timeout)
            finally:
                self._flushing = False


WORKBOOKS = WorkbookWriter()


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
    with _writing(rnd) as con:
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


# --- keyed double entry (录入) ---------------------------------------------------------

def _checklist(rnd: Round, unit_code: str) -> UnitChecklist:
    """A primary point's checklist, from a cache kept per round, sample and register.

    Keying and review requests come many per second; reading the register for each would
    cost seconds.  Callers have checked the inputs against the draw first, and the key holds
    the sample's and the register's SHA-256, so a cached checklist is never stale.
    """
    key = hashlib.sha256(rnd.sample_path.read_bytes()).hexdigest() + rnd.register_fingerprint()
    with _CACHE_LOCK:  # one reader of the register at a time; the others then find it cached
        checklists = _checklists(str(rnd.path), key)
    if unit_code not in checklists:
        raise ChouyangError(f"{unit_code} 不是本轮的样本点")
    return checklists[unit_code]


def _register(rnd: Round) -> inp.Register:
    """The round's register, read once per register (SHA-256 in the manifest; inputs checked before)."""
    with _CACHE_LOCK:
        return _read_register(str(rnd.path), rnd.register_fingerprint())


@lru_cache(maxsize=2)
def _read_register(path: str, fingerprint: str) -> inp.Register:
    return Round(Path(path)).load_register()


_CACHE_LOCK = threading.RLock()


def warm(rnd: Round) -> None:
    """Read the register into the checklist cache now (at server start), not on the first clerk's request."""
    try:
        rnd.require_unchanged_since_draw()
        _checklist(rnd, str(rnd.primaries().unit_code.iloc[0]))
    except (ChouyangError, IndexError):
        pass  # the first request says what is wrong


@lru_cache(maxsize=4)
def _checklists(path: str, key: str) -> dict[str, UnitChecklist]:
    rnd = Round(Path(path))
    return rnd.checklists(rnd.primaries().unit_code, _register(rnd))


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
    checklist = _checklist(rnd, unit_code)
    with rnd.store() as con:
        found = keyed.unit_passes(con, unit_code)
    n = keyed.pass_of(found, clerk)
    return KeyedForm(unit_code, checklist, n, found.get(n) if n else None, found)


def keyed_save(rnd: Round, unit_code: str, clerk: str, form, finish: bool) -> int:
    """Store a clerk's pass (draft or finished); logged with a hash of its content."""
    rnd.require_unchanged_since_draw()
    checklist = _checklist(rnd, unit_code)
    with _writing(rnd) as con:
        found = keyed.unit_passes(con, unit_code)
        n = keyed.pass_of(found, clerk)
        data = keyed.parse_form(form, checklist, found[n].data if n in found else None)
        n = keyed.save_pass(con, unit_code, clerk, data, finish, utc_now())
        rnd.log("keyed_save", {"unit_code": unit_code, "pass": n, "state": keyed.DONE if finish else keyed.DRAFT,
                               "content_sha256": content_sha256(data), "request": str(form.get("request", ""))[:64]},
                con, user=clerk)
    return n


def content_sha256(data: dict) -> str:
    return hashlib.sha256(json.dumps(data, ensure_ascii=False, sort_keys=True).encode("utf-8")).hexdigest()


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
    checklist = _checklist(rnd, unit_code)
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
    with _writing(rnd) as con:
        keyed.save_final(con, unit_code, user, final, keyed.DRAFT, utc_now())


# --- cases and feedback (个案与反馈) ----------------------------------------------------

@dataclass
class TownshipCases:
    township_code: str
    township_name: str
    cases: pd.DataFrame  # with rule, points, status, status_note, unit_name
    deduction: float | None
    deduction_raw: float | None


def case_table(rnd: Round) -> pd.DataFrame:
    """Every case with its feedback status, rule and points (the points the score would give)."""
    rnd.require_unchanged_since_draw()
    found = assign_points(feedback.with_default_status(steps.cases(rnd, register=_register(rnd))), rnd.rules())
    names = rnd.primaries().set_index("unit_code").unit_name
    return found.assign(unit_name=found.unit_code.map(names))


def township_cases(rnd: Round, township_code: str) -> TownshipCases:
    primary = rnd.primaries()
    towns = primary.drop_duplicates("township_code").set_index("township_code").township_name
    if township_code not in towns.index:
        raise ChouyangError(f"本轮没有乡镇 {township_code}")
    table = case_table(rnd)
    table = table[table.township_code == township_code].reset_index(drop=True)
    deduction = raw = None
    if entered_units(rnd) & set(primary[primary.township_code == township_code].unit_code):
        # the score's own deduction functions, on the confirmed cases (a withdrawn case is not confirmed)
        ded = township_deductions(table[table.confirmed == 1], [township_code], rnd.rules()).iloc[0]
        deduction, raw = float(ded.deduction), float(ded.deduction_raw)
    return TownshipCases(township_code, towns[township_code], table, deduction, raw)



def case_history(rnd: Round) -> dict[tuple[str, str], list[feedback.StatusChange]]:
    with rnd.store() as con:
        changes = db.case_history(con)
    out: dict[tuple[str, str], list[feedback.StatusChange]] = {}
    for c in changes:
        out.setdefault((c.unit_code, c.ref), []).append(c)
    return out


def feedback_pdf(rnd: Round, township_code: str) -> bytes:
    """The township's 现场反馈单 as PDF bytes (scored as far as results are in)."""
    result = steps.score_round(rnd, partial=True)
    if township_code not in set(result.townships.township_code):
        raise ChouyangError(f"乡镇 {township_code} 还没有录入结果，无法打印现场反馈单")
    with tempfile.TemporaryDirectory(prefix="chouyang-feedback-") as folder:
        path = Path(folder) / "feedback.pdf"
        write_feedback_pdf(result, rnd.rules(), township_code, path)
        return path.read_bytes()


# --- scoring and reports (计分与报告) ----------------------------------------------------

@dataclass
class Report:
    townships: pd.DataFrame
    county: pd.DataFrame
    files: list[str]
    time: str


def report_view(rnd: Round) -> Report | None:
    """The last written report (report/*.csv), or None before the first score."""
    folder = rnd.report_dir
    if not (folder / "townships.csv").exists():
        return None
    towns = pd.read_csv(folder / "townships.csv", dtype={"township_code": str})
    county = pd.read_csv(folder / "county.csv")
    scores = rnd.log_entries("score")
    return Report(towns.sort_values(["rank", "township_code"]).reset_index(drop=True), county,
                  [f for f in REPORT_FILES if (folder / f).exists()], scores[-1]["time"] if scores else "")


def report_file(rnd: Round, name: str) -> Path:
    if name not in REPORT_FILES or not (rnd.report_dir / name).exists():
        raise ChouyangError(f"没有报告文件 {name}（请先计分）")
    return rnd.report_dir / name


# --- the audit log, for reading ------------------------------------------------------------

# The log's action keys in the words of the pages (keys not listed are shown as they are).
ACTION_LABELS = {
    "init": "建立轮次", "commit": "公布指纹", "draw": "抽样", "draw_superseded": "重新抽样（作废前一次）",
    "replace": "替换样本点", "plan": "调查安排", "forms": "生成核查表", "checklist": "生成考核清单",
    "ingest": "录入", "ingest_replace": "替换录入", "ingest_checklist": "录入考核清单",
    "ingest_checklist_replace": "替换录入考核清单", "scan": "扫描识别", "score": "计分",
    "keyed_save": "键盘录入", "keyed_settle": "双录入裁定", "review_decision": "核对决定",
    "case_status": "个案状态", "user_add": "新建用户", "user_password": "重设密码",
    "instrument_pass": "调查表录入", "instrument_settle": "调查表核定",
}
# An ID number anywhere in a detail (17 digits and a digit or X), shown masked; not inside a longer
# run of hex digits (a SHA-256 in the detail stays whole).
_ID_IN_TEXT = re.compile(r"(?<![0-9A-Fa-f])\d{17}[\dXx](?![0-9A-Fa-f])")


def audit_rows(rnd: Round, limit: int = 300) -> tuple[list[dict], int]:
    """The newest `limit` audit log rows (newest first) as the log page shows them, and how many exist.

    The detail is the stored JSON in one line with every ID number masked: the log keeps what was
    entered, the page never shows it whole.
    """
    entries = rnd.log_entries()
    rows = []
    for e in reversed(entries[-limit:] if limit else entries):
        detail = json.dumps(e["detail"], ensure_ascii=False, sort_keys=True)
        rows.append({"id": e["id"], "time": e["time"], "user": e["user"],
                     "action": ACTION_LABELS.get(e["action"], e["action"]),
                     "detail": _ID_IN_TEXT.sub(lambda m: inp.mask_id(m.group(0)), detail)})
    return rows, len(entries)
