"""scrypt password hashes: the OWASP cost, upgrading older hashes at login, hostile stored parameters."""

from __future__ import annotations

import resource
import time

import pytest
from sqlalchemy import select

from hitloop.db.engine import Database
from hitloop.db.tables import User
from hitloop.errors import AuthenticationError
from hitloop.services import auth, passwords
from hitloop.services.passwords import ScryptCost, hash_password, needs_rehash, verify_password

# OWASP Password Storage Cheat Sheet, scrypt: any one of these (N, r, p) is the minimum.
OWASP_SCRYPT = [(2**17, 8, 1), (2**16, 8, 2), (2**15, 8, 3), (2**14, 8, 5), (2**13, 8, 10)]
OLD_COST = ScryptCost(2**14, 8, 1)  # hitloop's cost before it met the OWASP table
PASSWORD = "correct horse battery"


def _params(stored: str) -> tuple[int, int, int]:
    _, n, r, p, _, _ = stored.split("$")
    return int(n), int(r), int(p)


def _stored(db: Database, username: str) -> str:
    with db.read() as s:
        return s.scalars(select(User.password_hash).where(User.username == username)).one()


def _user_with_hash(db: Database, username: str, stored: str) -> None:
    with db.write() as s:
        auth.add_user(s, username, stored)


def test_the_production_cost_meets_the_owasp_table() -> None:
    cost = passwords.DEFAULT_COST
    assert any(cost.n >= n and cost.r >= r and cost.p >= p for n, r, p in OWASP_SCRYPT)
    assert cost.memory <= 16 * 1024 * 1024  # the same memory a hash took before: logins at once fit
    assert not any(
        passwords.TEST_COST.n >= n and passwords.TEST_COST.r >= r and passwords.TEST_COST.p >= p
        for n, r, p in OWASP_SCRYPT
    )


def test_a_hash_at_the_production_cost_verifies(production_password_cost: ScryptCost) -> None:
    started = time.perf_counter()
    stored = hash_password(PASSWORD)
    elapsed = time.perf_counter() - started
    assert (
        _params(stored)
        == (2**14, 8, 5)
        == (
            production_password_cost.n,
            production_password_cost.r,
            production_password_cost.p,
        )
    )
    assert verify_password(PASSWORD, stored)
    assert not verify_password(PASSWORD + "!", stored)
    assert not needs_rehash(stored)
    assert elapsed > 0.01  # really the memory-hard cost, not the tests' cheap one


def test_the_suite_hashes_at_the_test_cost_by_default() -> None:
    assert _params(hash_password(PASSWORD)) == (2**10, 8, 1)


@pytest.mark.parametrize(
    ("stored_cost", "upgrade"),
    [
        (ScryptCost(2**14, 8, 1), True),  # the old default: too little work
        (ScryptCost(2**12, 8, 5), True),  # too little memory
        (ScryptCost(2**14, 8, 5), False),
        (ScryptCost(2**17, 8, 1), False),  # OWASP's first row: more memory and work than the default
    ],
    ids=["old-default", "less-memory", "current", "owasp-n17"],
)
def test_needs_rehash_compares_memory_and_work(
    production_password_cost: ScryptCost, stored_cost: ScryptCost, upgrade: bool
) -> None:
    stored = hash_password(PASSWORD, stored_cost)
    assert verify_password(PASSWORD, stored)
    assert needs_rehash(stored) is upgrade


def test_login_upgrades_an_old_hash_to_the_current_cost(
    db: Database, production_password_cost: ScryptCost
) -> None:
    old = hash_password(PASSWORD, OLD_COST)
    _user_with_hash(db, "olga", old)
    assert auth.login(db, "olga", PASSWORD).username == "olga"
    upgraded = _stored(db, "olga")
    assert upgraded != old and _params(upgraded) == (2**14, 8, 5)
    assert verify_password(PASSWORD, upgraded) and not needs_rehash(upgraded)
    auth.login(db, "olga", PASSWORD)  # the upgraded hash logs in, and stays
    assert _stored(db, "olga") == upgraded


def test_a_wrong_password_does_not_upgrade(db: Database, production_password_cost: ScryptCost) -> None:
    old = hash_password(PASSWORD, OLD_COST)
    _user_with_hash(db, "olga", old)
    with pytest.raises(AuthenticationError):
        auth.login(db, "olga", "not the password")
    assert _stored(db, "olga") == old


def test_login_leaves_a_current_hash_alone(db: Database) -> None:
    auth.create_user(db, "cur", PASSWORD)
    before = _stored(db, "cur")
    auth.login(db, "cur", PASSWORD)
    assert _stored(db, "cur") == before


SALT = "AAAAAAAAAAAAAAAAAAAAAA=="
DIGEST = "A" * 43 + "="


@pytest.mark.parametrize(
    "stored",
    [
        f"scrypt${2**24}$8$1${SALT}${DIGEST}",  # 2 GiB of memory
        f"scrypt$16384${2**20}$1${SALT}${DIGEST}",  # r: memory again
        f"scrypt$16384$8${2**30}${SALT}${DIGEST}",  # p: hours of work
        f"scrypt$16384$8$1000${SALT}${DIGEST}",  # within the p cap, past the work cap
        f"scrypt$16385$8$1${SALT}${DIGEST}",  # N not a power of two
        f"scrypt$1$8$1${SALT}${DIGEST}",
        f"scrypt$-16384$8$1${SALT}${DIGEST}",
        f"scrypt$16384$0$1${SALT}${DIGEST}",
        f"scrypt$16384$8$1${SALT}${'A' * 100_000}",  # a huge dklen
        f"scrypt$16384$8$1${SALT}$not*base64",
        f"scrypt$16384$8$1${SALT}$",
        f"scrypt$x$8$1${SALT}${DIGEST}",
        f"bcrypt$16384$8$1${SALT}${DIGEST}",
        "scrypt$16384$8$1",
        "",
    ],
    ids=[
        "n-2gib",
        "r-huge",
        "p-huge",
        "work-cap",
        "n-odd",
        "n-one",
        "n-negative",
        "r-zero",
        "digest-huge",
        "digest-not-base64",
        "digest-empty",
        "n-not-int",
        "other-scheme",
        "too-few-parts",
        "empty",
    ],
)
def test_hostile_stored_parameters_are_refused_cheaply(stored: str) -> None:
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    started = time.perf_counter()
    assert verify_password(PASSWORD, stored) is False
    assert time.perf_counter() - started < 1.0
    assert resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - peak_before < 64 * 1024
    assert needs_rehash(stored)


def test_a_hostile_hash_in_the_database_fails_the_login_cleanly(db: Database) -> None:
    _user_with_hash(db, "eve", f"scrypt${2**24}$8$1${SALT}${DIGEST}")
    with pytest.raises(AuthenticationError):
        auth.login(db, "eve", PASSWORD)
