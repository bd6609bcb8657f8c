"""The users of the web workstation (chouyang serve, chouyang user)."""

from __future__ import annotations

from chouyang.round import accounts
from chouyang.round.folder import Round, utc_now


def add_user(rnd: Round, name: str, password: str, replace: bool = False, user: str | None = None) -> str:
    """Add a user of `chouyang serve` (or set a new password with `replace`); returns "added" or "replaced"."""
    with rnd.store(immediate=True) as con:
        outcome = accounts.add_user(con, name, password, replace, utc_now())
        rnd.log("user_add" if outcome == "added" else "user_password", {"name": name.strip()}, con, user=user)
    return outcome


def users(rnd: Round) -> list[str]:
    with rnd.store() as con:
        return accounts.user_names(con)
