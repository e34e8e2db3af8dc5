"""Invite links: an owner or manager lets someone join a project with a role.

An invite is a one-time secret, shown once when created and stored only as
its hash (like API tokens, :func:`hitloop.services.auth.token_hash`). Opening
``/invite/<secret>`` lets a person choose a username and password, or accept
with the account they are logged in with; accepting creates the account if
needed and the membership, and consumes the invite, in one transaction.
Unknown secrets count as failed attempts per client address
(:mod:`hitloop.services.throttle`), so links cannot be guessed.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from hitloop.db.engine import Database
from hitloop.db.tables import Invite, Membership, Project, User
from hitloop.errors import ConflictError, InputError, NotFoundError
from hitloop.schemas import InviteOut
from hitloop.services import throttle
from hitloop.services.audit import record_event
from hitloop.services.auth import CurrentUser, add_user, check_new_account, token_hash, user_of
from hitloop.services.members import check_owner_rule
from hitloop.services.passwords import hash_password
from hitloop.services.policy import ProjectAccess
from hitloop.types import Role

__all__ = [
    "DEFAULT_DAYS",
    "INVITE_PREFIX",
    "Accepted",
    "InviteView",
    "accept_invite",
    "create_invite",
    "list_invites",
    "open_invite",
    "revoke_invite",
]

INVITE_PREFIX = "hli_"
DEFAULT_DAYS = 7.0
MAX_DAYS = 90.0
UNKNOWN = "this invite link is not valid; ask for a new one"


@dataclass(frozen=True, slots=True)
class InviteView:
    """What the invite page shows before someone accepts."""

    project_id: int
    project_name: str
    role: Role
    expires_at: float


@dataclass(frozen=True, slots=True)
class Accepted:
    user: CurrentUser
    project_id: int
    role: Role
    created_account: bool


def _out(row: Invite, secret: str | None = None) -> InviteOut:
    return InviteOut(
        id=row.id,
        project_id=row.project_id,
        role=Role(row.role),
        created_by=row.created_by,
        created_at=row.created_at,
        expires_at=row.expires_at,
        token=secret,
        url=f"/invite/{secret}" if secret else None,
    )


def _project(s: Session, project_id: int) -> Project:
    project = s.get(Project, project_id)
    if project is None:
        raise NotFoundError(f"project {project_id} not found", field="project_id")
    return project


def create_invite(
    db: Database,
    actor: ProjectAccess | None,
    project_id: int,
    role: Role,
    *,
    days: float = DEFAULT_DAYS,
    now: float | None = None,
) -> InviteOut:
    """A new invite; its ``token`` and ``url`` are in the result only, never stored."""
    role = Role(role)
    check_owner_rule(actor, role)
    if not 0 < days <= MAX_DAYS:
        raise InputError(f"an invite lasts more than 0 and at most {MAX_DAYS:g} days", field="days")
    now = time.time() if now is None else now
    secret = INVITE_PREFIX + secrets.token_urlsafe(32)
    with db.write() as s:
        _project(s, project_id)
        row = Invite(
            project_id=project_id,
            role=role.value,
            token_hash=token_hash(secret),
            created_by=actor.user.id if actor is not None else None,
            created_at=now,
            expires_at=now + days * 86400,
        )
        s.add(row)
        s.flush()
        record_event(
            s, row.created_by, project_id, "invite.create", "invite", row.id, {"role": role, "days": days}
        )
        return _out(row, secret)


def list_invites(db: Database, project_id: int, now: float | None = None) -> list[InviteOut]:
    """Invites not yet accepted, revoked or expired, oldest first."""
    now = time.time() if now is None else now
    with db.read() as s:
        _project(s, project_id)
        rows = s.scalars(
            select(Invite)
            .where(
                Invite.project_id == project_id,
                Invite.accepted_at.is_(None),
                Invite.revoked_at.is_(None),
                Invite.expires_at > now,
            )
            .order_by(Invite.id)
        )
        return [_out(r) for r in rows]


def revoke_invite(db: Database, actor: ProjectAccess | None, project_id: int, invite_id: int) -> None:
    """Stop an invite from working; only an owner revokes an invite to become an owner."""
    with db.write() as s:
        _project(s, project_id)
        row = s.scalar(
            select(Invite).where(Invite.id == invite_id, Invite.project_id == project_id).with_for_update()
        )
        if row is None:
            raise NotFoundError(f"invite {invite_id} not found", field="invite_id")
        check_owner_rule(actor, Role(row.role))
        if row.accepted_at is not None:
            raise ConflictError("this invite was already used; remove the member instead", field="invite_id")
        if row.revoked_at is not None:
            raise ConflictError("this invite was already revoked", field="invite_id")
        row.revoked_at = time.time()
        who = actor.user.id if actor else None
        record_event(s, who, project_id, "invite.revoke", "invite", invite_id, {"role": row.role})


def _usable(row: Invite, now: float) -> None:
    """Raise unless the invite can still be accepted."""
    if row.revoked_at is not None:
        raise ConflictError("this invite was revoked; ask for a new one", field="token")
    if row.accepted_at is not None:
        raise ConflictError("this invite was already used; ask for a new one", field="token")
    if row.expires_at <= now:
        raise ConflictError("this invite has expired; ask for a new one", field="token")


def _active(s: Session, user: CurrentUser | None) -> User:
    row = s.get(User, user.id) if user is not None else None
    if row is None or not row.is_active:
        raise NotFoundError("your account is not active", field="user")
    return row


def _find(db: Database, secret: str, address: str | None) -> Invite:
    """The invite of ``secret``; an unknown secret counts against ``address``."""
    names = throttle.invite_keys(address)
    throttle.check(db, names, what="invite attempts")
    with db.read() as s:
        row = s.scalar(select(Invite).where(Invite.token_hash == token_hash(secret)))
        if row is not None:
            s.expunge(row)
    if row is None:
        throttle.failed(db, names)
        raise NotFoundError(UNKNOWN, field="token")
    return row


def open_invite(
    db: Database, secret: str, *, address: str | None = None, now: float | None = None
) -> InviteView:
    """What an invite offers, or why it cannot be accepted any more."""
    now = time.time() if now is None else now
    row = _find(db, secret, address)
    _usable(row, now)
    with db.read() as s:
        name = _project(s, row.project_id).name
    return InviteView(row.project_id, name, Role(row.role), row.expires_at)


def accept_invite(
    db: Database,
    secret: str,
    *,
    user: CurrentUser | None = None,
    username: str | None = None,
    password: str | None = None,
    address: str | None = None,
    now: float | None = None,
) -> Accepted:
    """Join the project: as ``user``, or as a new account ``username``/``password``.

    The account (if new), the membership, the invite's use and the audit
    events commit together; on any error nothing changes.
    """
    now = time.time() if now is None else now
    found = _find(db, secret, address)
    _usable(found, now)
    new_name = password_hash = None
    if user is None:
        if not username:
            raise InputError("choose a username", field="username")
        new_name = check_new_account(username, password or "")
        password_hash = hash_password(password or "")  # slow: before the write transaction
    with db.write() as s:
        row = s.scalar(select(Invite).where(Invite.id == found.id).with_for_update())
        if row is None:  # the project was deleted meanwhile
            raise NotFoundError(UNKNOWN, field="token")
        _usable(row, now)
        account = (
            add_user(s, new_name, password_hash)
            if new_name is not None and password_hash is not None
            else _active(s, user)
        )
        role = Role(row.role)
        exists = s.scalar(
            select(Membership.role).where(
                Membership.project_id == row.project_id, Membership.user_id == account.id
            )
        )
        if exists is not None:
            raise ConflictError(
                f"you are already a member of this project ({exists}); the invite stays unused", field="token"
            )
        s.add(Membership(project_id=row.project_id, user_id=account.id, role=role.value, created_at=now))
        row.accepted_at, row.accepted_by = now, account.id
        detail = {"username": account.username, "role": role, "new_account": new_name is not None}
        record_event(s, account.id, row.project_id, "invite.accept", "invite", row.id, detail)
        s.flush()
        return Accepted(user_of(account), row.project_id, role, new_name is not None)
