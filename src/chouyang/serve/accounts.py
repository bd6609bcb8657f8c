"""Users of the web workstation (`chouyang serve`): names and argon2 password hashes in the round's store.

Passwords are hashed with argon2id (argon2-cffi's defaults); the store never
holds a password.  These functions work inside an open store transaction; the
steps (steps.py) open it and log what changed.
"""

from __future__ import annotations

import re
import sqlite3

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from chouyang.errors import ChouyangError

USERS_SQL = """
CREATE TABLE IF NOT EXISTS users (
    name TEXT PRIMARY KEY,
    password_hash TEXT NOT NULL,
    created TEXT NOT NULL
);
"""
MIN_PASSWORD = 8
_NAME = re.compile(r"[\w.\-]{1,32}")  # letters (Chinese too), digits, _ . -
_HASHER = PasswordHasher()  # argon2id, argon2-cffi's defaults (RFC 9106 second recommendation)
_DUMMY: dict[str, str] = {}


def _dummy_hash() -> str:
    """Verified against when the name is unknown, so a wrong name costs as long as a wrong password."""
    if "hash" not in _DUMMY:
        _DUMMY["hash"] = _HASHER.hash("chouyang-no-such-user")
    return _DUMMY["hash"]


def ensure_schema(con: sqlite3.Connection) -> None:
    con.execute(USERS_SQL)


def check_name(name: str) -> str:
    name = name.strip()
    if not _NAME.fullmatch(name):
        raise ChouyangError(f"用户名「{name}」无效：只能用 1–32 个汉字、字母、数字或 _ . -，不能有空格")
    return name


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD:
        raise ChouyangError(f"密码太短：至少 {MIN_PASSWORD} 个字符")


def add_user(con: sqlite3.Connection, name: str, password: str, replace: bool, now: str) -> str:
    """Store a user's password hash; returns "added" or "replaced"."""
    name = check_name(name)
    check_password(password)
    ensure_schema(con)
    exists = con.execute("SELECT 1 FROM users WHERE name = ?", (name,)).fetchone() is not None
    if exists and not replace:
        raise ChouyangError(f"用户 {name} 已存在；如需重设密码，请加 --replace")
    con.execute("INSERT OR REPLACE INTO users (name, password_hash, created) VALUES (?, ?, ?)",
                (name, _HASHER.hash(password), now))
    return "replaced" if exists else "added"


def user_names(con: sqlite3.Connection) -> list[str]:
    ensure_schema(con)
    return [r[0] for r in con.execute("SELECT name FROM users ORDER BY name")]


def verify_password(con: sqlite3.Connection, name: str, password: str) -> bool:
    ensure_schema(con)
    row = con.execute("SELECT password_hash FROM users WHERE name = ?", (name.strip(),)).fetchone()
    try:
        return _HASHER.verify(row[0] if row else _dummy_hash(), password) and row is not None
    except (VerificationError, InvalidHashError):
        return False
