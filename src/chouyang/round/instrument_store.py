"""Every SQL statement of instrument responses: web entry passes and the stored (final) responses.

Kept in one module so that the lead can fold it into round/store.py (the owner of every SQL
statement) without reading the pages.  Functions run inside a transaction the caller opened
(`Round.store`); none commits.

Tables:
- instrument_passes: one row per (instrument, unit, subject key, pass): the blind double entry's
  passes 1 and 2 and the settled record (pass 0), each the response's values and rows as JSON.
- instrument_responses: the final response of a subject, what later stages read by instrument and
  field name, with the SHA-256 of its content and where it came from.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from dataclasses import dataclass

from chouyang.instruments.responses import Response

SCHEMA_SQL = """
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
"""


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


def ensure_schema(con: sqlite3.Connection) -> None:
    # one statement at a time: executescript would commit the caller's open transaction
    for statement in SCHEMA_SQL.split(";"):
        if statement.strip():
            con.execute(statement)


def passes(con: sqlite3.Connection, instrument: str, unit_code: str | None = None, key: str = "") -> list[StoredPass]:
    """The passes of one instrument (of one subject when `unit_code` is given), by unit and pass."""
    ensure_schema(con)
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
    ensure_schema(con)
    con.execute("INSERT OR REPLACE INTO instrument_passes (instrument, unit_code, subject_key, pass, clerk, state, data, "
                "updated) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (p.instrument, p.unit_code, p.key, p.number, p.clerk, p.state, _dumps(p.data), p.updated))


def store_response(con: sqlite3.Connection, response: Response, now: str) -> str:
    """Store (or replace) a subject's final response; returns its content hash."""
    ensure_schema(con)
    data = response_data(response)
    digest = content_sha256(data)
    con.execute("INSERT OR REPLACE INTO instrument_responses (instrument, unit_code, subject_key, data, content_sha256, "
                "source, time) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (response.instrument, response.unit_code, response.key, _dumps(data), digest, response.source, now))
    return digest


def stored_responses(con: sqlite3.Connection, instrument: str, unit_code: str | None = None, key: str = ""
                     ) -> list[Response]:
    """Every stored response of an instrument (or of one subject), by unit code and subject key."""
    ensure_schema(con)
    sql = "SELECT unit_code, subject_key, data, source FROM instrument_responses WHERE instrument = ?"
    args: tuple = (instrument,)
    if unit_code is not None:
        sql += " AND unit_code = ? AND subject_key = ?"
        args += (unit_code, key)
    rows = con.execute(sql + " ORDER BY unit_code, subject_key", args)
    out = []
    for unit, key, data, source in rows:
        d = json.loads(data)
        out.append(Response(instrument, unit, key, d["values"], d["rows"], source))
    return out


def stored_response(con: sqlite3.Connection, instrument: str, unit_code: str, key: str = "") -> Response | None:
    found = stored_responses(con, instrument, unit_code, key)
    return found[0] if found else None
