"""Users, API tokens and browser sessions."""

from __future__ import annotations

import functools
import hashlib
import secrets
import time
from dataclasses import dataclass

from sqlalchemy import select, update
from sqlalchemy.orm import Session as OrmSession

from hitloop.db.engine import Database
from hitloop.db.tables import ApiToken, Session, User
from hitloop.errors import AuthenticationError, ConflictError, InputError, NotFoundError
from hitloop.services import throttle
from hitloop.services.audit import record_event
from hitloop.services.passwords import ScryptCost, current_cost, hash_password, needs_rehash, verify_password

__all__ = [
    "CurrentUser",
    "add_user",
    "check_new_account",
    "create_session",
    "create_token",
    "create_user",
    "end_session",
    "list_tokens",
    "list_users",
    "login",
    "resolve_session",
    "resolve_token",
    "revoke_token",
    "token_hash",
    "user_of",
]

TOKEN_PREFIX = "hl_"


@dataclass(frozen=True, slots=True)
class CurrentUser:
    id: int
    username: str
    is_admin: bool
    csrf_token: str | None = None  # set when authenticated by a session cookie


def token_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def user_of(row: User, csrf: str | None = None) -> CurrentUser:
    return CurrentUser(id=row.id, username=row.username, is_admin=row.is_admin, csrf_token=csrf)


def check_new_account(username: str, password: str) -> str:
    """The username a new account would get (stripped), if it and the password are acceptable."""
    username = username.strip()
    if not username or len(username) > 100:
        raise InputError("a username is 1 to 100 characters", field="username")
    if len(password) < 8:
        raise InputError("a password has at least 8 characters", field="password")
    return username


def add_user(s: OrmSession, username: str, password_hash: str, *, is_admin: bool = False) -> User:
    """Add a user row (and its ``user.create`` event) to the caller's transaction."""
    if s.scalar(select(User.id).where(User.username == username)) is not None:
        raise ConflictError(f"user {username!r} already exists", field="username")
    row = User(
        username=username,
        password_hash=password_hash,
        is_admin=is_admin,
        is_active=True,
        created_at=time.time(),
    )
    s.add(row)
    s.flush()
    record_event(s, row.id, None, "user.create", "user", row.id, {"username": username})
    return row


def create_user(db: Database, username: str, password: str, *, is_admin: bool = False) -> CurrentUser:
    username = check_new_account(username, password)
    with db.write() as s:
        return user_of(add_user(s, username, hash_password(password), is_admin=is_admin))


def list_users(db: Database) -> list[CurrentUser]:
    with db.read() as s:
        return [user_of(u) for u in s.scalars(select(User).order_by(User.id))]


def login(db: Database, username: str, password: str, *, address: str | None = None) -> CurrentUser:
    """Check a username and password; the same error whichever part is wrong.

    Repeated failures lock the username and the client ``address`` for a while
    (hitloop.services.throttle): RateLimitedError, before any password check.
    A correct password stored with a lower cost than new hashes get is
    re-hashed at the current cost (``passwords.needs_rehash``).
    """
    names = throttle.keys(username, address)
    throttle.check(db, names)
    with db.read() as s:
        row = s.scalar(select(User).where(User.username == username))
    if row is None or not row.is_active:
        # Spend the same time as a real check so timing does not reveal usernames.
        verify_password(password, _dummy_hash(current_cost()))
        throttle.failed(db, names)
        raise AuthenticationError("wrong username or password")
    if not verify_password(password, row.password_hash):
        throttle.failed(db, names)
        raise AuthenticationError("wrong username or password")
    # Slow, so before the write transaction.
    upgraded = hash_password(password) if needs_rehash(row.password_hash) else None
    with db.write() as s:
        throttle.succeeded(s, username)
        if upgraded is not None:
            # Only if the hash is still the one checked: a password changed meanwhile stays changed.
            s.execute(
                update(User)
                .where(User.id == row.id, User.password_hash == row.password_hash)
                .values(password_hash=upgraded)
            )
    return user_of(row)


@functools.cache
def _dummy_hash(cost: ScryptCost) -> str:
    """A hash at ``cost`` of no one's password: unknown usernames take as long as known ones."""
    return hash_password(secrets.token_hex(8), cost)


def create_session(db: Database, user_id: int, *, days: int) -> tuple[str, str]:
    """Start a browser session; returns (cookie secret, CSRF token)."""
    secret = secrets.token_urlsafe(32)
    csrf = secrets.token_urlsafe(32)
    now = time.time()
    with db.write() as s:
        s.add(
            Session(
                user_id=user_id,
                token_hash=token_hash(secret),
                csrf_token=csrf,
                created_at=now,
                expires_at=now + days * 86400,
            )
        )
        record_event(s, user_id, None, "session.create", "user", user_id, {})
    return secret, csrf


def resolve_session(db: Database, secret: str) -> CurrentUser | None:
    with db.read() as s:
        row = s.execute(
            select(User, Session.csrf_token)
            .join(Session, Session.user_id == User.id)
            .where(Session.token_hash == token_hash(secret), Session.expires_at > time.time())
        ).first()
    if row is None or not row[0].is_active:
        return None
    return user_of(row[0], csrf=row[1])


def end_session(db: Database, secret: str) -> None:
    with db.write() as s:
        s.execute(update(Session).where(Session.token_hash == token_hash(secret)).values(expires_at=0.0))


def create_token(db: Database, user_id: int, name: str = "token") -> tuple[ApiToken, str]:
    """Create an API token; the secret is returned here once and stored only hashed."""
    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    with db.write() as s:
        row = ApiToken(user_id=user_id, name=name, token_hash=token_hash(secret), created_at=time.time())
        s.add(row)
        s.flush()
        record_event(s, user_id, None, "token.create", "api_token", row.id, {"name": name})
    return row, secret


def list_tokens(db: Database, user_id: int) -> list[ApiToken]:
    with db.read() as s:
        return list(
            s.scalars(
                select(ApiToken)
                .where(ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
                .order_by(ApiToken.id)
            )
        )


def revoke_token(db: Database, user_id: int, token_id: int) -> None:
    with db.write() as s:
        done = s.execute(
            update(ApiToken)
            .where(ApiToken.id == token_id, ApiToken.user_id == user_id, ApiToken.revoked_at.is_(None))
            .values(revoked_at=time.time())
        )
        if done.rowcount != 1:  # type: ignore[attr-defined]
            raise NotFoundError(f"token {token_id} not found")
        record_event(s, user_id, None, "token.revoke", "api_token", token_id, {})


def resolve_token(db: Database, secret: str) -> CurrentUser | None:
    with db.read() as s:
        row = s.scalar(
            select(User)
            .join(ApiToken, ApiToken.user_id == User.id)
            .where(ApiToken.token_hash == token_hash(secret), ApiToken.revoked_at.is_(None))
        )
    if row is None or not row.is_active:
        return None
    return user_of(row)
