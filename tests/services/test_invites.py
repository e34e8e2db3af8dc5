"""Invite links: create, accept (new account or existing), expire, revoke, reuse; role rules; audit."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import func, select

from hitloop.db.engine import Database
from hitloop.db.tables import Event, Invite, Membership, User
from hitloop.errors import ConflictError, InputError, NotFoundError, PermissionDeniedError, RateLimitedError
from hitloop.schemas import ProjectCreate
from hitloop.services import auth, invites, members, policy, projects, throttle
from hitloop.types import Role


@pytest.fixture
def pid(db: Database) -> int:
    owner = auth.create_user(db, "olive", "olive-password")
    for name in ("mia", "ann"):
        auth.create_user(db, name, f"{name}-password")
    project = projects.create_project(db, owner.id, ProjectCreate(name="p", labels=["a"]))
    members.add_member(db, None, project.id, "mia", Role.MANAGER)
    return project.id


def _as(db: Database, name: str, pid: int) -> policy.ProjectAccess:
    user = next(u for u in auth.list_users(db) if u.username == name)
    return policy.project_access(db, user, pid)


def _secret(out: Any) -> str:
    assert out.token is not None and out.url == f"/invite/{out.token}"
    return str(out.token)


def _counts(db: Database) -> tuple[int, int, int]:
    with db.read() as s:
        return (
            int(s.scalar(select(func.count()).select_from(User)) or 0),
            int(s.scalar(select(func.count()).select_from(Membership)) or 0),
            int(s.scalar(select(func.count()).select_from(Event)) or 0),
        )


def test_a_new_person_accepts_with_a_new_account(db: Database, pid: int) -> None:
    manager = _as(db, "mia", pid)
    out = invites.create_invite(db, manager, pid, Role.ANNOTATOR)
    secret = _secret(out)
    assert out.role is Role.ANNOTATOR
    assert out.expires_at.timestamp() - out.created_at.timestamp() == pytest.approx(7 * 86400)
    with db.read() as s:
        stored = s.scalar(select(Invite.token_hash))
    assert stored == auth.token_hash(secret) and secret not in stored  # only the hash is kept
    view = invites.open_invite(db, secret)
    assert (view.project_name, view.role) == ("p", Role.ANNOTATOR)
    done = invites.accept_invite(db, secret, username="newbie", password="newbie-password")
    assert done.created_account and done.role is Role.ANNOTATOR and done.project_id == pid
    assert auth.login(db, "newbie", "newbie-password").id == done.user.id
    roles = {m.username: m.role for m in members.list_members(db, pid)}
    assert roles["newbie"] is Role.ANNOTATOR
    assert invites.list_invites(db, pid) == []
    with db.read() as s:
        events = s.execute(select(Event.action, Event.user_id, Event.detail).order_by(Event.id)).all()
    actions = [e.action for e in events]
    assert actions[-3:] == ["invite.create", "user.create", "invite.accept"]
    assert events[-3].user_id == manager.user.id and secret not in str(events[-3].detail)
    assert events[-1].user_id == done.user.id
    assert events[-1].detail == {"username": "newbie", "role": "annotator", "new_account": True}


def test_a_logged_in_user_accepts_with_their_account(db: Database, pid: int) -> None:
    secret = _secret(invites.create_invite(db, None, pid, Role.REVIEWER))
    ann = next(u for u in auth.list_users(db) if u.username == "ann")
    done = invites.accept_invite(db, secret, user=ann)
    assert not done.created_account and done.user.id == ann.id
    assert {m.username: m.role for m in members.list_members(db, pid)}["ann"] is Role.REVIEWER


def test_an_invite_works_once(db: Database, pid: int) -> None:
    secret = _secret(invites.create_invite(db, None, pid, Role.VIEWER))
    invites.accept_invite(db, secret, username="first", password="first-password")
    before = _counts(db)
    with pytest.raises(ConflictError, match="already used"):
        invites.accept_invite(db, secret, username="second", password="second-password")
    with pytest.raises(ConflictError, match="already used"):
        invites.open_invite(db, secret)
    assert _counts(db) == before


def test_an_expired_invite_changes_nothing(db: Database, pid: int) -> None:
    secret = _secret(invites.create_invite(db, None, pid, Role.ANNOTATOR, days=1))
    later = time.time() + 86400 + 1
    assert invites.list_invites(db, pid, now=later) == []
    before = _counts(db)
    with pytest.raises(ConflictError, match="expired"):
        invites.accept_invite(db, secret, username="late", password="late-password", now=later)
    assert _counts(db) == before


def test_a_revoked_invite_changes_nothing(db: Database, pid: int) -> None:
    manager = _as(db, "mia", pid)
    out = invites.create_invite(db, manager, pid, Role.ANNOTATOR)
    assert [i.id for i in invites.list_invites(db, pid)] == [out.id]
    assert invites.list_invites(db, pid)[0].token is None  # listed without the secret
    invites.revoke_invite(db, manager, pid, out.id)
    assert invites.list_invites(db, pid) == []
    before = _counts(db)
    with pytest.raises(ConflictError, match="revoked"):
        invites.accept_invite(db, _secret(out), username="x", password="x-password")
    with pytest.raises(ConflictError, match="already revoked"):
        invites.revoke_invite(db, manager, pid, out.id)
    assert _counts(db) == before
    with db.read() as s:
        assert s.scalar(select(Event.action).order_by(Event.id.desc()).limit(1)) == "invite.revoke"


def test_only_an_owner_invites_or_revokes_an_owner(db: Database, pid: int) -> None:
    manager, owner = _as(db, "mia", pid), _as(db, "olive", pid)
    with pytest.raises(PermissionDeniedError, match="only an owner"):
        invites.create_invite(db, manager, pid, Role.OWNER)
    out = invites.create_invite(db, owner, pid, Role.OWNER)
    with pytest.raises(PermissionDeniedError, match="only an owner"):
        invites.revoke_invite(db, manager, pid, out.id)
    for role in (Role.MANAGER, Role.REVIEWER, Role.VIEWER, Role.ANNOTATOR):
        assert invites.create_invite(db, manager, pid, role).role is role
    done = invites.accept_invite(db, _secret(out), username="co-owner", password="co-owner-password")
    assert done.role is Role.OWNER


@pytest.mark.parametrize(
    ("kwargs", "error", "field"),
    [
        ({"username": "", "password": "long-enough"}, InputError, "username"),
        ({"username": "shorty", "password": "short"}, InputError, "password"),
        ({"username": "ann", "password": "long-enough"}, ConflictError, "username"),
    ],
    ids=["no-username", "short-password", "taken-username"],
)
def test_a_bad_new_account_changes_nothing(
    db: Database, pid: int, kwargs: dict[str, str], error: type[Exception], field: str
) -> None:
    secret = _secret(invites.create_invite(db, None, pid, Role.ANNOTATOR))
    before = _counts(db)
    with pytest.raises(error) as caught:
        invites.accept_invite(db, secret, **kwargs)
    assert getattr(caught.value, "field", None) == field
    assert _counts(db) == before
    assert len(invites.list_invites(db, pid)) == 1  # still usable


def test_a_member_cannot_use_an_invite_and_it_stays_unused(db: Database, pid: int) -> None:
    secret = _secret(invites.create_invite(db, None, pid, Role.VIEWER))
    mia = next(u for u in auth.list_users(db) if u.username == "mia")
    with pytest.raises(ConflictError, match="already a member"):
        invites.accept_invite(db, secret, user=mia)
    assert len(invites.list_invites(db, pid)) == 1


@pytest.mark.parametrize("days", [0, -1, 91])
def test_an_invite_lasts_a_sensible_time(db: Database, pid: int, days: float) -> None:
    with pytest.raises(InputError) as caught:
        invites.create_invite(db, None, pid, Role.ANNOTATOR, days=days)
    assert caught.value.field == "days"


def test_unknown_ids_and_projects(db: Database, pid: int) -> None:
    with pytest.raises(NotFoundError, match="invite 999 not found"):
        invites.revoke_invite(db, None, pid, 999)
    with pytest.raises(NotFoundError, match="project 999 not found"):
        invites.create_invite(db, None, 999, Role.ANNOTATOR)
    other = projects.create_project(db, None, ProjectCreate(name="q", labels=["a"]))
    out = invites.create_invite(db, None, other.id, Role.ANNOTATOR)
    with pytest.raises(NotFoundError, match=f"invite {out.id} not found"):
        invites.revoke_invite(db, None, pid, out.id)  # another project's invite


def test_guessing_tokens_locks_the_address(db: Database, pid: int) -> None:
    secret = _secret(invites.create_invite(db, None, pid, Role.ANNOTATOR))
    for i in range(throttle.MAX_ADDRESS_FAILURES):
        with pytest.raises(NotFoundError, match="not valid"):
            invites.open_invite(db, f"hli_guess{i}", address="10.0.0.9")
    with pytest.raises(RateLimitedError, match="too many failed invite attempts"):
        invites.accept_invite(db, secret, username="x", password="x-password", address="10.0.0.9")
    assert len(invites.list_invites(db, pid)) == 1
    # Another address is not locked, and a correct secret there works.
    invites.accept_invite(db, secret, username="x", password="x-password", address="10.0.0.10")
