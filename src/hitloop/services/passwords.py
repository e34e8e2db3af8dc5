"""Password hashing with scrypt (memory-hard, in the standard library).

The cost is one of the OWASP Password Storage Cheat Sheet's scrypt settings
(N=2**17, r=8, p=1 or an equivalent): N=2**14, r=8, p=5 takes the same 16 MiB
per hash as N=2**14, p=1 did, so many logins at once do not exhaust memory;
the extra work is time (about 0.12 s a hash, against 0.03 s). A hash stores
its parameters, so hashes made with a lower cost still verify, and a login
re-hashes them (``needs_rehash``).

The test suite hashes with ``TEST_COST`` through ``use_cost`` (see
tests/conftest.py); nothing else changes the cost.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
from dataclasses import dataclass

__all__ = [
    "DEFAULT_COST",
    "TEST_COST",
    "ScryptCost",
    "current_cost",
    "hash_password",
    "needs_rehash",
    "use_cost",
    "verify_password",
]


@dataclass(frozen=True, slots=True)
class ScryptCost:
    n: int
    r: int
    p: int

    @property
    def memory(self) -> int:
        """Bytes of scrypt's working memory (128 * r * N)."""
        return 128 * self.r * self.n

    @property
    def work(self) -> int:
        """Proportional to the time of one hash (the p lanes run one after another)."""
        return self.n * self.r * self.p

    def at_least(self, other: ScryptCost) -> bool:
        return self.memory >= other.memory and self.work >= other.work


DEFAULT_COST = ScryptCost(2**14, 8, 5)
TEST_COST = ScryptCost(2**10, 8, 1)  # far below OWASP: only for the test suite's many throwaway users

# What a stored hash may ask of verify_password: a hash written by hitloop is far inside these,
# a hostile one (from a tampered database) gets False instead of minutes of CPU or gigabytes.
_MAX_N, _MAX_R, _MAX_P = 2**20, 32, 64
_MAX_MEMORY = 128 * 1024 * 1024
_MAX_WORK = 16 * DEFAULT_COST.work
_MAX_DIGEST = 64

_cost = DEFAULT_COST


def use_cost(cost: ScryptCost) -> ScryptCost:
    """Hash new passwords at ``cost`` from now on; returns the cost it replaces."""
    global _cost
    previous, _cost = _cost, cost
    return previous


def current_cost() -> ScryptCost:
    return _cost


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode("ascii")


def _scrypt(password: str, salt: bytes, cost: ScryptCost, dklen: int) -> bytes:
    # OpenSSL refuses past maxmem (32 MiB unless given); its buffers are 128 * r * (N + 2 + p) bytes.
    needed = 128 * cost.r * (cost.n + 2 + cost.p)
    return hashlib.scrypt(
        password.encode("utf-8"), salt=salt, n=cost.n, r=cost.r, p=cost.p, dklen=dklen, maxmem=needed
    )


def hash_password(password: str, cost: ScryptCost | None = None) -> str:
    """A salted scrypt hash at ``cost`` (the current cost by default), with its parameters."""
    cost = cost or _cost
    salt = secrets.token_bytes(16)
    digest = _scrypt(password, salt, cost, 32)
    return f"scrypt${cost.n}${cost.r}${cost.p}${_b64(salt)}${_b64(digest)}"


def _parse(stored: str) -> tuple[ScryptCost, bytes, bytes] | None:
    """The cost, salt and digest of a stored hash, or None if it is malformed or asks too much."""
    parts = stored.split("$")
    if len(parts) != 6 or parts[0] != "scrypt":
        return None
    try:
        cost = ScryptCost(int(parts[1]), int(parts[2]), int(parts[3]))
        salt = base64.b64decode(parts[4], validate=True)
        digest = base64.b64decode(parts[5], validate=True)
    except (ValueError, binascii.Error):
        return None
    if not (2 <= cost.n <= _MAX_N and cost.n & (cost.n - 1) == 0):
        return None
    if not (1 <= cost.r <= _MAX_R and 1 <= cost.p <= _MAX_P):
        return None
    if cost.memory > _MAX_MEMORY or cost.work > _MAX_WORK or not 16 <= len(digest) <= _MAX_DIGEST:
        return None
    return cost, salt, digest


def verify_password(password: str, stored: str) -> bool:
    parsed = _parse(stored)
    if parsed is None:
        return False
    cost, salt, expected = parsed
    try:
        actual = _scrypt(password, salt, cost, len(expected))
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(actual, expected)


def needs_rehash(stored: str) -> bool:
    """Whether a stored hash was made with less memory or work than hashes are made with now."""
    parsed = _parse(stored)
    return parsed is None or not parsed[0].at_least(_cost)
