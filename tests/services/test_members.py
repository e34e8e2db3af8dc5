"""Members: add, change role, pause, remove; owner rules; every change audited."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hitloop.db.engine import Database
from hitloop.db.tables import Event
from hitloop.errors import ConflictError, NotFoundError, PermissionDeniedError
from hitloop.schemas import ProjectCreate
from hitloop.services import auth, members, policy, projects
from hitloop.types import Role


@pytest.fixture
def pid(db: Database) -> int:
    owner = auth.create_user(db, "olive", "olive-password")
    for name in ("mia", "ann", "zed"):
        auth.create_user(db, name, f"{name}-password")
    project = projects.create_project(db, owner.id, ProjectCreate(name="p", labels=["a"]))
    members.add_member(db, None, project.id, "mia", Role.MANAGER)
    return project.id


def _as(db: Database, name: str, pid: int) -> policy.ProjectAccess:
    user = next(u for u in auth.list_users(db) if u.username == name)
    return policy.project_access(db, user, pid)


def _roles(db: Database, pid: int) -> dict[str, str]:
    return {m.username: m.role.value for m in members.list_members(db, pid)}


def test_add_change_remove_with_audit_events(db: Database, pid: int) -> None:
    manager = _as(db, "mia", pid)
    ann = members.add_member(db, manager, pid, "ann", Role.ANNOTATOR)
    members.update_member(db, manager, pid, ann.user_id, role=Role.REVIEWER)
    members.update_member(db, manager, pid, ann.user_id, paused=True)
    members.update_member(db, manager, pid, ann.user_id, paused=False)
    members.remove_member(db, manager, pid, ann.user_id)
    assert _roles(db, pid) == {"olive": "owner", "mia": "manager"}
    with db.read() as s:
        events = s.execute(
            select(Event.action, Event.user_id, Event.detail).where(Event.project_id == pid)
        ).all()
    actions = [e.action for e in events if e.user_id == manager.user.id]
    assert actions == ["member.add", "member.role", "member.pause", "member.unpause", "member.remove"]
    assert events[-1].detail == {"username": "ann", "role": "reviewer"}


@pytest.mark.parametrize(
    ("call", "error", "field"),
    [
        (lambda db, pid, m: members.add_member(db, m, pid, "nobody", Role.VIEWER), NotFoundError, "username"),
        (lambda db, pid, m: members.add_member(db, m, pid, "mia", Role.VIEWER), ConflictError, "username"),
        (lambda db, pid, m: members.add_member(db, m, pid, "zed", Role.OWNER), PermissionDeniedError, "role"),
        (
            lambda db, pid, m: members.update_member(db, m, pid, 9999, role=Role.VIEWER),
            NotFoundError,
            "user_id",
        ),
        (lambda db, pid, m: members.remove_member(db, m, pid, 1), PermissionDeniedError, "role"),
        (lambda db, pid, m: members.add_member(db, m, 9999, "zed", Role.VIEWER), NotFoundError, "project_id"),
    ],
    ids=[
        "unknown-user",
        "already-member",
        "manager-makes-owner",
        "not-a-member",
        "manager-removes-owner",
        "no-project",
    ],
)
def test_refused_changes_name_the_field_and_change_nothing(
    db: Database, pid: int, call, error, field
) -> None:  # type: ignore[no-untyped-def]
    before = _roles(db, pid)
    with pytest.raises(error) as info:
        call(db, pid, _as(db, "mia", pid))
    assert info.value.field == field
    assert _roles(db, pid) == before


def test_a_project_keeps_one_owner(db: Database, pid: int) -> None:
    owner = _as(db, "olive", pid)
    with pytest.raises(ConflictError, match="at least one owner"):
        members.update_member(db, owner, pid, owner.user.id, role=Role.MANAGER)
    with pytest.raises(ConflictError):
        members.remove_member(db, owner, pid, owner.user.id)
    zed = members.add_member(db, owner, pid, "zed", Role.OWNER)
    members.update_member(db, owner, pid, owner.user.id, role=Role.MANAGER)
    assert _roles(db, pid)["zed"] == "owner" and zed.role is Role.OWNER
