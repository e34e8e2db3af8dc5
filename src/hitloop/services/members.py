"""A project's members: add, change role, pause and unpause, remove.

Rules beyond the policy table: only an owner (or an administrator) may make
someone an owner or change or remove an owner, and a project always keeps at
least one owner. Every change is an audit event.
"""

from __future__ import annotations

import time

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hitloop.db.engine import Database
from hitloop.db.tables import Membership, Project, User
from hitloop.errors import ConflictError, NotFoundError, PermissionDeniedError
from hitloop.schemas import MemberOut
from hitloop.services.audit import record_event
from hitloop.services.policy import ProjectAccess
from hitloop.types import Role

__all__ = ["add_member", "check_owner_rule", "list_members", "remove_member", "update_member"]


def _out(m: Membership, username: str) -> MemberOut:
    return MemberOut(
        user_id=m.user_id,
        username=username,
        role=Role(m.role),
        paused=m.paused_at is not None,
        pause_reason=m.pause_reason,
        created_at=m.created_at,
    )


def _actor_is_owner(actor: ProjectAccess | None) -> bool:
    """None: a trusted caller (the command line, run by whoever runs the server)."""
    return actor is None or actor.user.is_admin or actor.role is Role.OWNER


def check_owner_rule(actor: ProjectAccess | None, *roles: Role | None) -> None:
    if Role.OWNER in roles and not _actor_is_owner(actor):
        raise PermissionDeniedError("only an owner may make, change or remove an owner", field="role")


def _project(s: Session, project_id: int) -> None:
    if s.get(Project, project_id) is None:
        raise NotFoundError(f"project {project_id} not found", field="project_id")


def list_members(db: Database, project_id: int) -> list[MemberOut]:
    with db.read() as s:
        _project(s, project_id)
        rows = s.execute(
            select(Membership, User.username)
            .join(User, User.id == Membership.user_id)
            .where(Membership.project_id == project_id)
            .order_by(User.username)
        ).all()
        return [_out(m, name) for m, name in rows]


def _member(s: Session, project_id: int, user_id: int) -> tuple[Membership, str]:
    row = s.execute(
        select(Membership, User.username)
        .join(User, User.id == Membership.user_id)
        .where(Membership.project_id == project_id, Membership.user_id == user_id)
    ).first()
    if row is None:
        raise NotFoundError(f"user {user_id} is not a member of project {project_id}", field="user_id")
    return row[0], row[1]


def _owners(s: Session, project_id: int) -> int:
    return int(
        s.scalar(
            select(func.count()).where(
                Membership.project_id == project_id, Membership.role == Role.OWNER.value
            )
        )
        or 0
    )


def add_member(
    db: Database, actor: ProjectAccess | None, project_id: int, username: str, role: Role
) -> MemberOut:
    """Add an existing user to the project with a role."""
    role = Role(role)
    check_owner_rule(actor, role)
    with db.write() as s:
        _project(s, project_id)
        user = s.scalar(select(User).where(User.username == username))
        if user is None:
            raise NotFoundError(f"no user named {username!r}", field="username")
        exists = s.scalar(
            select(Membership.role).where(Membership.project_id == project_id, Membership.user_id == user.id)
        )
        if exists is not None:
            raise ConflictError(
                f"{username!r} is already a member ({exists}); change their role instead", field="username"
            )
        m = Membership(project_id=project_id, user_id=user.id, role=role.value, created_at=time.time())
        s.add(m)
        s.flush()
        record_event(
            s,
            _actor_id(actor),
            project_id,
            "member.add",
            "user",
            user.id,
            {"username": username, "role": role},
        )
        return _out(m, user.username)


def _actor_id(actor: ProjectAccess | None) -> int | None:
    return actor.user.id if actor is not None else None


def update_member(
    db: Database,
    actor: ProjectAccess | None,
    project_id: int,
    user_id: int,
    *,
    role: Role | None = None,
    paused: bool | None = None,
) -> MemberOut:
    """Change a member's role, or pause or unpause them (unpausing restarts their gold count)."""
    with db.write() as s:
        _project(s, project_id)
        m, username = _member(s, project_id, user_id)
        old = Role(m.role)
        now = time.time()
        if role is not None and Role(role) is not old:
            role = Role(role)
            check_owner_rule(actor, old, role)
            if old is Role.OWNER and _owners(s, project_id) <= 1:
                raise ConflictError(
                    "a project keeps at least one owner; add another owner first", field="role"
                )
            m.role = role.value
            record_event(
                s, _actor_id(actor), project_id, "member.role", "user", user_id, {"from": old, "to": role}
            )
        if paused is not None and paused != (m.paused_at is not None):
            if paused:
                m.paused_at, m.pause_reason = now, "paused by a manager"
            else:
                # A fresh start: gold answers before now no longer count towards pausing.
                m.paused_at, m.pause_reason, m.gold_since = None, None, now
            action = "member.pause" if paused else "member.unpause"
            record_event(s, _actor_id(actor), project_id, action, "user", user_id, {"username": username})
        s.flush()
        return _out(m, username)


def remove_member(db: Database, actor: ProjectAccess | None, project_id: int, user_id: int) -> None:
    """Remove someone from the project; their answers stay, their holds expire as usual."""
    with db.write() as s:
        _project(s, project_id)
        m, username = _member(s, project_id, user_id)
        role = Role(m.role)
        check_owner_rule(actor, role)
        if role is Role.OWNER and _owners(s, project_id) <= 1:
            raise ConflictError("a project keeps at least one owner", field="user_id")
        s.delete(m)
        record_event(
            s,
            _actor_id(actor),
            project_id,
            "member.remove",
            "user",
            user_id,
            {"username": username, "role": role},
        )
