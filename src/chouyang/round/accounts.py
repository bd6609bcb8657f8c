"""Users of the web workstation (`chouyang serve`): names and argon2 password hashes in the round's store.

Passwords are hashed with argon2id (argon2-cffi's defaults); the store never
holds a password.  These functions work inside an open store transaction; the
steps (steps/people.py) open it and log what changed; the users table is the
store's (round/store.py).
"""

from __future__ import annotations

import re
import sqlite3

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from chouyang.errors import ChouyangError
from chouyang.round import store as db

MIN_PASSWORD = 8
_NAME = re.compile(r"[\w.\-]{1,32}")  # letters (Chinese too), digits, _ . -
_HASHER = PasswordHasher()  # argon2id, argon2-cffi's defaults (RFC 9106 second recommendation)
_DUMMY: dict[str, str] = {}


def _dummy_hash() -> str:
    """Verified against when the name is unknown, so a wrong name costs as long as a wrong password."""
    if "hash" not in _DUMMY:
        _DUMMY["hash"] = _HASHER.hash("chouyang-no-such-user")
    return _DUMMY["hash"]


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
    exists = db.user_exists(con, name)
    if exists and not replace:
        raise ChouyangError(f"用户 {name} 已存在；如需重设密码，请加 --replace")
    db.put_user(con, name, _HASHER.hash(password), now)
    return "replaced" if exists else "added"


def user_names(con: sqlite3.Connection) -> list[str]:
    return db.user_names(con)


def verify_password(con: sqlite3.Connection, name: str, password: str) -> bool:
    stored = db.password_hash(con, name.strip())
    try:
        return _HASHER.verify(stored if stored is not None else _dummy_hash(), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False
