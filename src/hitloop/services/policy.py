"""Who may do what: the one place where roles are decided (DESIGN §4.7).

A person's access to a project is their membership role (owner, manager,
annotator, reviewer, viewer); an instance administrator may do everything in
every project. What each role allows is the table :data:`ROLE_ACTIONS`. Each
resource has one function that loads what the decision needs and applies the
table: :func:`project_access` for a project and everything under it,
:func:`item_access` for one item, :func:`answers_of` for whose answers count.

Things a person may not see are reported as missing (``NotFoundError``), so
ids of other projects reveal nothing; things they may see but not change are
refused (``PermissionDeniedError``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import text

from hitloop.db.engine import Database
from hitloop.db.sql import json_out
from hitloop.errors import NotFoundError, PermissionDeniedError
from hitloop.services.auth import CurrentUser
from hitloop.types import Role

__all__ = [
    "ROLE_ACTIONS",
    "Action",
    "ProjectAccess",
    "allowed",
    "answers_of",
    "check_queue_access",
    "item_access",
    "project_access",
    "projects_allowing",
    "visible_project_ids",
]


class Action(StrEnum):
    """Something a person does in a project."""

    READ_PROJECT = "project.read"  # the project, its progress, their own answers
    UPDATE_PROJECT = "project.update"  # team settings: overlap, gold rate, who sees what
    READ_MEMBERS = "members.read"
    MANAGE_MEMBERS = "members.manage"  # add, remove, change roles, pause and unpause
    ADD_ITEMS = "items.add"  # add, upload, import
    READ_ITEMS = "items.read"  # any item, not only those served to or answered by them
    READ_ANNOTATIONS = "annotations.read"  # everyone's answers (export, agreement, aggregates)
    ANNOTATE = "annotate"  # take items from the queue and answer them
    REVIEW = "review"  # accept, fix or reject others' answers
    MANAGE_GOLD = "gold.manage"  # mark gold items, see gold answers and accuracy
    READ_AUDIT = "audit.read"  # the project's audit log


_READERS = frozenset({Action.READ_PROJECT, Action.READ_ITEMS, Action.READ_ANNOTATIONS})

ROLE_ACTIONS: dict[Role, frozenset[Action]] = {
    Role.OWNER: frozenset(Action),
    Role.MANAGER: frozenset(Action) - {Action.READ_AUDIT},
    Role.REVIEWER: _READERS | {Action.REVIEW},
    Role.ANNOTATOR: frozenset({Action.READ_PROJECT, Action.ANNOTATE}),
    Role.VIEWER: _READERS,
}

# The project setting ``annotator_visibility``: "own" (default) shows annotators only the
# items served to them and their own answers; "all" shows them every item and answer.
VISIBILITY_KEY = "annotator_visibility"
VISIBILITY_CHOICES = ("own", "all")


def allowed(
    role: Role | str | None, action: Action, *, is_admin: bool = False, visibility: str = "own"
) -> bool:
    """The decision itself: may a person with ``role`` (None: not a member) do ``action``?"""
    if is_admin:
        return True
    if role is None:
        return False
    role = Role(role)
    if role is Role.ANNOTATOR and visibility == "all" and action in _READERS:
        return True
    return action in ROLE_ACTIONS[role]


@dataclass(frozen=True, slots=True)
class ProjectAccess:
    """A person's standing in one project, as loaded by :func:`project_access`."""

    user: CurrentUser
    project_id: int
    role: Role | None  # None: an administrator who is not a member
    visibility: str = "own"
    paused_at: float | None = None
    pause_reason: str | None = None

    def can(self, action: Action) -> bool:
        return allowed(self.role, action, is_admin=self.user.is_admin, visibility=self.visibility)

    def require(self, action: Action) -> ProjectAccess:
        if not self.can(action):
            who = f"{'an' if self.role is Role.ANNOTATOR else 'a'} {self.role.value}" if self.role else "you"
            raise PermissionDeniedError(
                f"{who} may not do this in project {self.project_id} (needs {action.value})"
            )
        return self


_ACCESS = text(
    "SELECT p.settings, m.role, m.paused_at, m.pause_reason FROM projects p"
    " LEFT JOIN memberships m ON m.project_id = p.id AND m.user_id = :u WHERE p.id = :p"
)


def _visibility(settings: Any) -> str:
    value = (json_out(settings) or {}).get(VISIBILITY_KEY, "own")
    return value if value in VISIBILITY_CHOICES else "own"


def project_access(
    db: Database, user: CurrentUser, project_id: int, action: Action | None = None
) -> ProjectAccess:
    """Load the user's access to a project; a project they do not belong to is "not found"."""
    with db.read() as s:
        row = s.execute(_ACCESS, {"u": user.id, "p": project_id}).first()
    if row is None or (row.role is None and not user.is_admin):
        raise NotFoundError(f"project {project_id} not found", field="project_id")
    access = ProjectAccess(
        user=user,
        project_id=project_id,
        role=Role(row.role) if row.role else None,
        visibility=_visibility(row.settings),
        paused_at=row.paused_at,
        pause_reason=row.pause_reason,
    )
    return access.require(action) if action is not None else access


_ITEM = text(
    "SELECT i.project_id, i.state, i.leased_by,"
    " EXISTS (SELECT 1 FROM annotations a WHERE a.item_id = i.id AND a.user_id = :u) AS answered,"
    " EXISTS (SELECT 1 FROM leases l WHERE l.item_id = i.id AND l.user_id = :u) AS held"
    " FROM items i WHERE i.id = :i"
)


def item_access(
    db: Database, user: CurrentUser, item_id: int, action: Action = Action.READ_ITEMS
) -> ProjectAccess:
    """Access to one item's project, if the user may see the item at all.

    People who may not read every item (annotators, by default) see only the
    items served to them or answered by them; any other item is "not found".
    """
    missing = NotFoundError(f"item {item_id} not found", field="item_id")
    with db.read() as s:
        row = s.execute(_ITEM, {"u": user.id, "i": item_id}).first()
    if row is None or row.state == "staged":
        raise missing
    try:
        access = project_access(db, user, row.project_id)
    except NotFoundError:
        raise missing from None
    if not access.can(Action.READ_ITEMS):
        mine = row.leased_by == user.id or bool(row.answered) or bool(row.held)
        if not (mine and access.can(Action.READ_PROJECT)):
            raise missing
    if action is not Action.READ_ITEMS:
        access.require(action)
    return access


def answers_of(access: ProjectAccess) -> int | None:
    """Whose answers this person may see in counts such as the label distribution.

    None: everyone's (they may read all answers); else their own user id: an annotator,
    unless the project's ``annotator_visibility`` is "all", sees only their own answers.
    """
    return None if access.can(Action.READ_ANNOTATIONS) else access.user.id


def check_queue_access(
    user: CurrentUser | None,
    project_id: int,
    role: str | None,
    paused_at: float | None,
    pause_reason: str | None,
) -> None:
    """The queue's check, fed by the queue's own first query (no extra round trip).

    Raises ``NotFoundError`` for non-members, ``PermissionDeniedError`` for roles
    that do not annotate and for paused members.
    """
    if user is not None:  # None: a trusted caller (command line, demo, simulation)
        if role is None and not user.is_admin:
            raise NotFoundError(f"project {project_id} not found", field="project_id")
        if not allowed(role, Action.ANNOTATE, is_admin=user.is_admin):
            raise PermissionDeniedError(f"a {role} does not label items in project {project_id}")
    if paused_at is not None:
        why = f" ({pause_reason})" if pause_reason else ""
        raise PermissionDeniedError(
            f"you are paused in project {project_id}{why}; a project manager can unpause you"
        )


def visible_project_ids(db: Database, user: CurrentUser) -> set[int] | None:
    """The projects the user belongs to; None means all of them (an administrator)."""
    if user.is_admin:
        return None
    with db.read() as s:
        return set(s.scalars(text("SELECT project_id FROM memberships WHERE user_id = :u"), {"u": user.id}))


_MEMBERSHIPS = text(
    "SELECT m.project_id, m.role, p.settings FROM memberships m"
    " JOIN projects p ON p.id = m.project_id WHERE m.user_id = :u"
)


def projects_allowing(db: Database, user: CurrentUser, action: Action) -> set[int] | None:
    """The projects where the user may do ``action``; None means all of them (an administrator).

    Each project's ``annotator_visibility`` applies, as in :func:`project_access`.
    """
    if user.is_admin:
        return None
    with db.read() as s:
        rows = s.execute(_MEMBERSHIPS, {"u": user.id})
        return {r.project_id for r in rows if allowed(r.role, action, visibility=_visibility(r.settings))}
