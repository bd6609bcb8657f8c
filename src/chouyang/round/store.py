"""The round's SQLite store (store.sqlite): the one place that speaks SQL.

Every table of the project is created here (`ensure_schema`), and every
statement that reads or writes one is a named function here; the modules that
own a table's meaning (the round folder, ingest, accounts, case feedback,
double entry, scan review) call these with an open connection and work with
Python values.  `transaction` opens the store: BEGIN (or BEGIN IMMEDIATE for a
read-check-write), the schema, COMMIT on success, ROLLBACK on any error.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from chouyang.errors import ChouyangError
from chouyang.instruments.responses import Response
from chouyang.survey import feedback
from chouyang.survey.feedback import StatusChange
from chouyang.vocab import row_key

STORE_TIMEOUT = 60  # seconds a second writer waits for the store's write lock

# The audit log: one row per step that changed the round.
_LOG_SQL = """
CREATE TABLE IF NOT EXISTS log (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    time TEXT NOT NULL,
    user TEXT NOT NULL,
    action TEXT NOT NULL,
    detail TEXT NOT NULL
);
"""
# Entered results (chouyang ingest): one row per sheet row, and one content hash per unit.
_ENTRIES_SQL = """
CREATE TABLE IF NOT EXISTS entries (
    unit_code TEXT NOT NULL,
    sheet TEXT NOT NULL,
    row_key TEXT NOT NULL,
    data TEXT NOT NULL,
    PRIMARY KEY (unit_code, sheet, row_key)
);
CREATE TABLE IF NOT EXISTS ingests (
    unit_code TEXT PRIMARY KEY,
    content_sha256 TEXT NOT NULL,
    source TEXT NOT NULL,
    time TEXT NOT NULL
);
"""
# Entered assessment facts (综合治理 checklist, entered scores, bonus/deductions, flags): one JSON per township.
_ASSESSMENT_SQL = """
CREATE TABLE IF NOT EXISTS assessment_entries (
    township_code TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    content_sha256 TEXT NOT NULL,
    source TEXT NOT NULL,
    time TEXT NOT NULL
);
"""
# Users of the web workstation (serve/accounts.py): argon2 hashes, never a password.
_USERS_SQL = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    created TEXT NOT NULL
);
"""
# Case feedback (survey/feedback.py): every status change is one row, so the history is the table.
_STATUS_SQL = """
CREATE TABLE IF NOT EXISTS case_status (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    unit_code TEXT NOT NULL,
    ref TEXT NOT NULL,
    kind TEXT NOT NULL,
    identity TEXT NOT NULL,
    status TEXT NOT NULL,
    comment TEXT NOT NULL,
    user TEXT NOT NULL,
    time TEXT NOT NULL
);
"""
# Double entry (entry/keyed.py): each clerk's pass and the settled record (pass 0), and each pass's errors.
_KEYED_SQL = """
CREATE TABLE IF NOT EXISTS keyed_passes (
    unit_code TEXT NOT NULL,
    pass INTEGER NOT NULL,
    clerk TEXT NOT NULL,
    state TEXT NOT NULL,
    data TEXT NOT NULL,
    updated TEXT NOT NULL,
    PRIMARY KEY (unit_code, pass)
);
CREATE TABLE IF NOT EXISTS keyed_errors (
    unit_code TEXT NOT NULL,
    pass INTEGER NOT NULL,
    clerk TEXT NOT NULL,
    fields INTEGER NOT NULL,
    errors INTEGER NOT NULL,
    PRIMARY KEY (unit_code, pass)
);
"""
# Scan review (scan/review.py): the decision on each flagged item.
_REVIEW_SQL = """
CREATE TABLE IF NOT EXISTS review_decisions (
    unit_code TEXT NOT NULL,
    item_id TEXT NOT NULL,
    state TEXT NOT NULL,
    data TEXT NOT NULL,
    user TEXT NOT NULL,
    time TEXT NOT NULL,
    PRIMARY KEY (unit_code, item_id)
);
"""
# instrument responses (issue 18): web entry passes 1 and 2 and the settled record (pass 0), the final
# response of a subject that later stages read by instrument and field name, and the phone submission
# (ODK instanceID) it came from, if any (its own table: stores made before it keep working)
_INSTRUMENT_SQL = """
CREATE TABLE IF NOT EXISTS instrument_passes (
    instrument TEXT NOT NULL,
    unit_code TEXT NOT NULL,
    subject_key TEXT NOT NULL,
    pass INTEGER NOT NULL,
    clerk TEXT NOT NULL,
    state TEXT NOT NULL,
    data TEXT NOT NULL,
    updated TEXT NOT NULL,
    PRIMARY KEY (instrument, unit_code, subject_key, pass)
);
CREATE TABLE IF NOT EXISTS instrument_responses (
    instrument TEXT NOT NULL,
    unit_code TEXT NOT NULL,
    subject_key TEXT NOT NULL,
    data TEXT NOT NULL,
    content_sha256 TEXT NOT NULL,
    source TEXT NOT NULL,
    time TEXT NOT NULL,
    PRIMARY KEY (instrument, unit_code, subject_key)
);
CREATE TABLE IF NOT EXISTS instrument_submissions (
    instrument TEXT NOT NULL,
    unit_code TEXT NOT NULL,
    subject_key TEXT NOT NULL,
    submission TEXT NOT NULL,
    PRIMARY KEY (instrument, unit_code, subject_key)
);
"""
SCHEMA_SQL = (_LOG_SQL + _ENTRIES_SQL + _ASSESSMENT_SQL + _USERS_SQL + _STATUS_SQL + _KEYED_SQL + _REVIEW_SQL
              + _INSTRUMENT_SQL)


def _json(value) -> str:
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


# --- opening -------------------------------------------------------------------------------

def ensure_schema(con: sqlite3.Connection) -> None:
    """Create every table the project uses (those there already are left as they are)."""
    for statement in SCHEMA_SQL.split(";"):
        if statement.strip():
            con.execute(statement)  # not executescript(): it would COMMIT an open BEGIN


@contextmanager
def transaction(path: Path, immediate: bool = False) -> Iterator[sqlite3.Connection]:
    """A connection to the store at `path`, inside one transaction; commits on success, rolls back on error.

    `immediate` takes the write lock at the start (BEGIN IMMEDIATE), so a read-check-write
    (ingest: "is this content already stored?") cannot interleave with another process;
    a second writer waits up to STORE_TIMEOUT seconds.
    """
    try:
        con = sqlite3.connect(path, timeout=STORE_TIMEOUT, isolation_level=None)
    except sqlite3.Error as exc:
        raise store_error(path, exc) from None
    try:
        try:
            con.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")
            ensure_schema(con)
        except sqlite3.Error as exc:
            raise store_error(path, exc) from None
        yield con
        con.execute("COMMIT")
    except BaseException:
        if con.in_transaction:
            con.execute("ROLLBACK")
        raise
    finally:
        con.close()


def store_error(path: Path, exc: sqlite3.Error) -> ChouyangError:
    """What went wrong opening the store, in words a user can act on."""
    text = str(exc).lower()
    if "not a database" in text or "malformed" in text:
        why = "文件已损坏（不是有效的 SQLite 数据库）。请从备份恢复 store.sqlite，或新建考核轮次重新录入"
    elif "readonly" in text or "unable to open" in text or "read-only" in text:
        why = "无法写入（文件夹或文件是只读的？）。请检查文件夹权限后重试"
    elif "locked" in text or "busy" in text:
        why = f"另一个 chouyang 进程正在写入，等待 {STORE_TIMEOUT} 秒后仍未结束。请稍后重试"
    else:
        why = f"无法打开（{exc}）"
    return ChouyangError(f"轮次数据库 {path}：{why}。已有数据没有改动。")


# --- the audit log -------------------------------------------------------------------------

def insert_log(con: sqlite3.Connection, time: str, user: str, action: str, detail: dict) -> None:
    con.execute("INSERT INTO log (time, user, action, detail) VALUES (?, ?, ?, ?)", (time, user, action, _json(detail)))


def log_rows(con: sqlite3.Connection, action: str | None = None) -> list[dict]:
    """The log, oldest first (of one action when given)."""
    sql = "SELECT id, time, user, action, detail FROM log"
    rows = con.execute(sql + (" WHERE action = ?" if action else "") + " ORDER BY id",
                       (action,) if action else ()).fetchall()
    return [dict(id=r[0], time=r[1], user=r[2], action=r[3], detail=json.loads(r[4])) for r in rows]


# --- entered results -----------------------------------------------------------------------

def ingested_units(con: sqlite3.Connection) -> list[str]:
    """The units whose results are stored, by code."""
    return [r[0] for r in con.execute("SELECT unit_code FROM ingests ORDER BY unit_code")]


def stored_entries(con: sqlite3.Connection, unit: str) -> dict[str, list[dict]]:
    out: dict[str, list[dict]] = {}
    for sheet, data in con.execute("SELECT sheet, data FROM entries WHERE unit_code = ? ORDER BY sheet, row_key",
                                   (unit,)):
        out.setdefault(sheet, []).append(json.loads(data))
    return out


def stored_digest(con: sqlite3.Connection, unit: str) -> str | None:
    row = con.execute("SELECT content_sha256 FROM ingests WHERE unit_code = ?", (unit,)).fetchone()
    return row[0] if row else None


def store_entries(con: sqlite3.Connection, unit: str, entries: dict[str, list[dict]], digest: str,
                  source: str, time: str) -> None:
    """Replace a unit's stored rows by `entries` and record their content hash."""
    con.execute("DELETE FROM entries WHERE unit_code = ?", (unit,))
    for sheet, rows in entries.items():
        for i, r in enumerate(rows, start=1):
            _insert_row(con, unit, sheet, row_key(r, i), r)
    con.execute("INSERT OR REPLACE INTO ingests (unit_code, content_sha256, source, time) VALUES (?, ?, ?, ?)",
                (unit, digest, source, time))


def _insert_row(con: sqlite3.Connection, unit: str, sheet: str, key: str, row: dict) -> None:
    con.execute("INSERT INTO entries (unit_code, sheet, row_key, data) VALUES (?, ?, ?, ?)",
                (unit, sheet, key, _json(row)))


# --- entered assessment facts --------------------------------------------------------------

def assessment_data(con: sqlite3.Connection) -> dict[str, dict]:
    """Every township's stored assessment entries: township -> table name -> rows of text."""
    return {code: json.loads(data) for code, data in
            con.execute("SELECT township_code, data FROM assessment_entries ORDER BY township_code")}


def stored_assessment(con: sqlite3.Connection, township: str) -> tuple[str, dict] | None:
    """(content hash, data) of a township's stored assessment entries, or None."""
    row = con.execute("SELECT content_sha256, data FROM assessment_entries WHERE township_code = ?",
                      (township,)).fetchone()
    return (row[0], json.loads(row[1])) if row else None


def store_assessment(con: sqlite3.Connection, township: str, data: dict, digest: str, source: str, time: str) -> None:
    con.execute("INSERT OR REPLACE INTO assessment_entries (township_code, data, content_sha256, source, time) "
                "VALUES (?, ?, ?, ?, ?)", (township, _json(data), digest, source, time))


# --- users of the web workstation ----------------------------------------------------------

def user_exists(con: sqlite3.Connection, name: str) -> bool:
    return con.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone() is not None


def put_user(con: sqlite3.Connection, name: str, password_hash: str, created: str) -> None:
    con.execute("INSERT OR REPLACE INTO users (name, password_hash, created) VALUES (?, ?, ?)",
                (name, password_hash, created))


def user_names(con: sqlite3.Connection) -> list[str]:
    return [r[0] for r in con.execute("SELECT name FROM users ORDER BY name")]


def password_hash(con: sqlite3.Connection, name: str) -> str | None:
    row = con.execute("SELECT password_hash FROM users WHERE name = ?", (name,)).fetchone()
    return row[0] if row else None


# --- case feedback -------------------------------------------------------------------------

def case_history(con: sqlite3.Connection, unit_code: str | None = None, ref: str | None = None) -> list[StatusChange]:
    """Status changes, oldest first (of one case when unit and ref are given)."""
    sql = "SELECT unit_code, ref, kind, identity, status, comment, user, time FROM case_status"
    args: tuple = ()
    if unit_code is not None:
        sql += " WHERE unit_code = ? AND ref = ?"
        args = (unit_code, ref)
    return [StatusChange(*r) for r in con.execute(sql + " ORDER BY id", args)]


def change_case_status(con: sqlite3.Connection, unit_code: str, ref: str, kind: str, identity: str, new: str,
                       comment: str, user: str, now: str) -> str:
    """Record a status change after feedback.next_status allowed it; returns the old status.

    Call inside a write transaction (BEGIN IMMEDIATE), so the check and the write see the same history.
    """
    old, comment = feedback.next_status(case_history(con, unit_code, ref), unit_code, ref, identity, new, comment)
    con.execute("INSERT INTO case_status (unit_code, ref, kind, identity, status, comment, user, time) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)", (unit_code, ref, kind, identity, new, comment, user, now))
    return old


# --- double entry --------------------------------------------------------------------------

def keyed_pass_rows(con: sqlite3.Connection, unit_code: str | None = None) -> list[tuple]:
    """(unit, pass, clerk, state, data, updated) of every stored pass (of one unit when given)."""
    sql = "SELECT unit_code, pass, clerk, state, data, updated FROM keyed_passes"
    args: tuple = ()
    if unit_code is not None:
        sql += " WHERE unit_code = ?"
        args = (unit_code,)
    return [(u, n, c, s, json.loads(d), t) for u, n, c, s, d, t in con.execute(sql + " ORDER BY unit_code, pass", args)]


def put_keyed_pass(con: sqlite3.Connection, unit_code: str, number: int, clerk: str, state: str, data: dict,
                   updated: str) -> None:
    con.execute("INSERT OR REPLACE INTO keyed_passes (unit_code, pass, clerk, state, data, updated) "
                "VALUES (?, ?, ?, ?, ?, ?)", (unit_code, number, clerk, state, _json(data), updated))


def put_keyed_errors(con: sqlite3.Connection, unit_code: str, number: int, clerk: str, fields: int, errors: int) -> None:
    con.execute("INSERT OR REPLACE INTO keyed_errors (unit_code, pass, clerk, fields, errors) VALUES (?, ?, ?, ?, ?)",
                (unit_code, number, clerk, fields, errors))


def clerk_error_sums(con: sqlite3.Connection) -> list[tuple[str, int, int, int]]:
    """Per clerk, by name: (clerk, settled units keyed, fields, fields differing from the settled value)."""
    return list(con.execute("SELECT clerk, COUNT(*), SUM(fields), SUM(errors) FROM keyed_errors "
                            "GROUP BY clerk ORDER BY clerk"))


# --- scan review ---------------------------------------------------------------------------

def review_decision_rows(con: sqlite3.Connection, unit_code: str | None = None) -> list[tuple]:
    """(unit, item id, state, data, user, time) of every stored decision (of one unit when given)."""
    sql = "SELECT unit_code, item_id, state, data, user, time FROM review_decisions"
    args: tuple = ()
    if unit_code is not None:
        sql += " WHERE unit_code = ?"
        args = (unit_code,)
    return [(u, i, s, json.loads(d), who, t) for u, i, s, d, who, t in con.execute(sql, args)]


def put_review_decision(con: sqlite3.Connection, unit_code: str, item_id: str, state: str, values: dict[str, str],
                        user: str, time: str) -> None:
    con.execute("INSERT OR REPLACE INTO review_decisions (unit_code, item_id, state, data, user, time) "
                "VALUES (?, ?, ?, ?, ?, ?)", (unit_code, item_id, state, _json(values), user, time))


# --- instrument responses ----------------------------------------------------------------

@dataclass(frozen=True)
class StoredPass:
    instrument: str
    unit_code: str
    key: str
    number: int
    clerk: str
    state: str
    data: dict          # {"values": {...}, "rows": {...}}
    updated: str


def response_data(response: Response) -> dict:
    """The part of a response that is compared, hashed and stored."""
    return {"values": dict(response.values), "rows": {g: [dict(r) for r in rows] for g, rows in response.rows.items()}}


def content_sha256(data: dict) -> str:
    return hashlib.sha256(_dumps(data).encode("utf-8")).hexdigest()


def _dumps(data: dict) -> str:
    return json.dumps(data, ensure_ascii=False, sort_keys=True)


def passes(con: sqlite3.Connection, instrument: str, unit_code: str | None = None, key: str = "") -> list[StoredPass]:
    """The passes of one instrument (of one subject when `unit_code` is given), by unit and pass."""
    sql = ("SELECT instrument, unit_code, subject_key, pass, clerk, state, data, updated FROM instrument_passes "
           "WHERE instrument = ?")
    args: tuple = (instrument,)
    if unit_code is not None:
        sql += " AND unit_code = ? AND subject_key = ?"
        args += (unit_code, key)
    rows = con.execute(sql + " ORDER BY unit_code, subject_key, pass", args)
    return [StoredPass(i, u, k, n, c, s, json.loads(d), t) for i, u, k, n, c, s, d, t in rows]


def subject_passes(con: sqlite3.Connection, instrument: str, unit_code: str, key: str = "") -> dict[int, StoredPass]:
    return {p.number: p for p in passes(con, instrument, unit_code, key)}


def save_pass(con: sqlite3.Connection, p: StoredPass) -> None:
    con.execute("INSERT OR REPLACE INTO instrument_passes (instrument, unit_code, subject_key, pass, clerk, state, data, "
                "updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (p.instrument, p.unit_code, p.key, p.number, p.clerk, p.state, _dumps(p.data), p.updated))


def store_response(con: sqlite3.Connection, response: Response, now: str) -> str:
    """Store (or replace) a subject's final response; returns its content hash."""
    data = response_data(response)
    digest = content_sha256(data)
    con.execute("INSERT OR REPLACE INTO instrument_responses (instrument, unit_code, subject_key, data, content_sha256, "
                "source, time) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (response.instrument, response.unit_code, response.key, _dumps(data), digest, response.source, now))
    con.execute("DELETE FROM instrument_submissions WHERE instrument = ? AND unit_code = ? AND subject_key = ?",
                (response.instrument, response.unit_code, response.key))
    if response.submission:
        con.execute("INSERT INTO instrument_submissions (instrument, unit_code, subject_key, submission) VALUES (?, ?, ?, ?)",
                    (response.instrument, response.unit_code, response.key, response.submission))
    return digest


def stored_digests(con: sqlite3.Connection, instrument: str) -> dict[tuple[str, str], tuple[str, str]]:
    """(unit, subject key) -> (content hash, submission id or '') of every stored response of an instrument."""
    rows = con.execute("SELECT r.unit_code, r.subject_key, r.content_sha256, COALESCE(s.submission, '') "
                       "FROM instrument_responses r LEFT JOIN instrument_submissions s ON s.instrument = r.instrument "
                       "AND s.unit_code = r.unit_code AND s.subject_key = r.subject_key WHERE r.instrument = ?",
                       (instrument,))
    return {(u, k): (d, sub) for u, k, d, sub in rows}


def response_instruments(con: sqlite3.Connection) -> list[str]:
    """The instruments with at least one stored response, by name."""
    return [r[0] for r in con.execute("SELECT DISTINCT instrument FROM instrument_responses ORDER BY instrument")]


def stored_responses(con: sqlite3.Connection, instrument: str, unit_code: str | None = None, key: str = ""
                     ) -> list[Response]:
    """Every stored response of an instrument (or of one subject), by unit code and subject key."""
    sql = ("SELECT r.unit_code, r.subject_key, r.data, r.source, COALESCE(s.submission, '') FROM instrument_responses r "
           "LEFT JOIN instrument_submissions s ON s.instrument = r.instrument AND s.unit_code = r.unit_code "
           "AND s.subject_key = r.subject_key WHERE r.instrument = ?")
    args: tuple = (instrument,)
    if unit_code is not None:
        sql += " AND r.unit_code = ? AND r.subject_key = ?"
        args += (unit_code, key)
    rows = con.execute(sql + " ORDER BY r.unit_code, r.subject_key", args)
    out = []
    for unit, key, data, source, submission in rows:
        d = json.loads(data)
        out.append(Response(instrument, unit, key, d["values"], d["rows"], source, submission))
    return out


def stored_response(con: sqlite3.Connection, instrument: str, unit_code: str, key: str = "") -> Response | None:
    found = stored_responses(con, instrument, unit_code, key)
    return found[0] if found else None
