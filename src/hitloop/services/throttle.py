"""Login throttling: too many failed logins lock a username, or a client address, for a while.

Failures are counted in the database (table ``login_throttle``), so every
server process and a restart see the same counts. A username is locked after
:data:`MAX_USER_FAILURES` failures within :data:`WINDOW_S`; a client address
after :data:`MAX_ADDRESS_FAILURES` (an office behind one address has many
people). While locked, logins are refused with :class:`RateLimitedError`
before the password is even checked, so guessing gains nothing.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from hitloop.db.engine import Database
from hitloop.db.tables import LoginThrottle
from hitloop.errors import RateLimitedError

__all__ = [
    "MAX_ADDRESS_FAILURES",
    "MAX_USER_FAILURES",
    "WINDOW_S",
    "check",
    "failed",
    "invite_keys",
    "keys",
    "succeeded",
]

MAX_USER_FAILURES = 5
MAX_ADDRESS_FAILURES = 20
WINDOW_S = 15 * 60.0  # failures older than this are forgotten
LOCKOUT_S = 15 * 60.0  # how long a lock lasts


def keys(username: str, address: str | None) -> list[str]:
    out = [f"user:{username.strip().lower()[:150]}"]
    if address:
        out.append(f"addr:{address[:150]}")
    return out


def invite_keys(address: str | None) -> list[str]:
    """Invite links are guessed from an address, with no username: one key per address."""
    return [f"invite:{address[:150]}"] if address else []


def _limit(key: str) -> int:
    return MAX_USER_FAILURES if key.startswith("user:") else MAX_ADDRESS_FAILURES


def check(db: Database, names: Sequence[str], now: float | None = None, *, what: str = "logins") -> None:
    """Refuse while any of these keys is locked, saying when to retry."""
    now = time.time() if now is None else now
    with db.read() as s:
        until = s.scalar(
            select(LoginThrottle.locked_until)
            .where(LoginThrottle.key.in_(list(names)), LoginThrottle.locked_until > now)
            .order_by(LoginThrottle.locked_until.desc())
            .limit(1)
        )
    if until is not None:
        wait = max(1, math.ceil(until - now))
        raise RateLimitedError(
            f"too many failed {what}; try again in {math.ceil(wait / 60)} minute(s)", retry_after=wait
        )


def failed(db: Database, names: Sequence[str], now: float | None = None) -> None:
    """Count a failed login against each key; lock those that reached their limit."""
    now = time.time() if now is None else now
    with db.write() as s:
        for key in names:
            row = s.get(LoginThrottle, key, with_for_update=True)
            if row is None:
                s.add(LoginThrottle(key=key, failures=1, window_start=now, locked_until=0.0))
                continue
            if now - row.window_start > WINDOW_S:
                row.failures, row.window_start = 1, now
            else:
                row.failures += 1
            if row.failures >= _limit(key):
                row.locked_until = now + LOCKOUT_S
                row.failures, row.window_start = 0, now


def succeeded(s: Session, username: str) -> None:
    """A correct password clears the username's count (not the address's), in the caller's transaction."""
    s.execute(delete(LoginThrottle).where(LoginThrottle.key == keys(username, None)[0]))
