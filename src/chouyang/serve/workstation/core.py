"""What every page's steps share: the queued write transaction, the register and checklist caches, users.

The web workstation's steps (this package) have the shape of steps/: load through the Round, call
pure functions (progress, review, keyed, feedback), write through the Round's store in one
`BEGIN IMMEDIATE` transaction per write (`writing`), and log every write with the web user's name.
"""

from __future__ import annotations

import hashlib
import json
import threading
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from chouyang import steps
from chouyang.errors import ChouyangError
from chouyang.inputs import readers as inp
from chouyang.round import accounts
from chouyang.round import store as db
from chouyang.round.folder import Round
from chouyang.survey.check_rows import UnitChecklist

_WRITE_LOCK = threading.Lock()


@contextmanager
def writing(rnd: Round):
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


# --- results stored ------------------------------------------------------------------

def entered_units(rnd: Round) -> set[str]:
    """The points whose results are stored (from any source)."""
    with rnd.store() as con:
        return set(db.ingested_units(con))


# --- the register and checklists, read once --------------------------------------------

def unit_checklist(rnd: Round, unit_code: str) -> UnitChecklist:
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


def round_register(rnd: Round) -> inp.Register:
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
        unit_checklist(rnd, str(rnd.primaries().unit_code.iloc[0]))
    except (ChouyangError, IndexError):
        pass  # the first request says what is wrong


@lru_cache(maxsize=4)
def _checklists(path: str, key: str) -> dict[str, UnitChecklist]:
    rnd = Round(Path(path))
    return rnd.checklists(rnd.primaries().unit_code, round_register(rnd))


def content_sha256(data: dict) -> str:
    return hashlib.sha256(json.dumps(data, ensure_ascii=False, sort_keys=True).encode("utf-8")).hexdigest()
