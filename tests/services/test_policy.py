"""The policy table: what each role may do, and how access to a project and an item is loaded."""

from __future__ import annotations

import pytest

from hitloop.db.engine import Database
from hitloop.errors import NotFoundError, PermissionDeniedError
from hitloop.schemas import ItemIn, ProjectCreate
from hitloop.services import auth, items, members, policy, projects, queue
from hitloop.services.items import ItemLimits
from hitloop.services.policy import Action, allowed
from hitloop.types import Role

# role -> the actions it allows (the documented table in docs/api.md)
EXPECTED = {
    Role.OWNER: set(Action),
    Role.MANAGER: set(Action) - {Action.READ_AUDIT},
    Role.REVIEWER: {Action.READ_PROJECT, Action.READ_ITEMS, Action.READ_ANNOTATIONS, Action.REVIEW},
    Role.ANNOTATOR: {Action.READ_PROJECT, Action.ANNOTATE},
    Role.VIEWER: {Action.READ_PROJECT, Action.READ_ITEMS, Action.READ_ANNOTATIONS},
}


@pytest.mark.parametrize("role", list(Role), ids=[r.value for r in Role])
def test_each_role_allows_exactly_its_actions(role: Role) -> None:
    assert {a for a in Action if allowed(role, a)} == EXPECTED[role]


def test_administrators_may_do_anything_and_strangers_nothing() -> None:
    assert all(allowed(None, a, is_admin=True) for a in Action)
    assert not any(allowed(None, a) for a in Action)


def test_annotators_read_everything_when_the_project_says_so() -> None:
    everything = {a for a in Action if allowed(Role.ANNOTATOR, a, visibility="all")}
    assert everything == EXPECTED[Role.ANNOTATOR] | {Action.READ_ITEMS, Action.READ_ANNOTATIONS}


@pytest.mark.parametrize(
    ("role", "action", "message"),
    [
        (
            Role.ANNOTATOR,
            Action.UPDATE_PROJECT,
            "an annotator may not do this in project 7 (needs project.update)",
        ),
        (Role.VIEWER, Action.REVIEW, "a viewer may not do this in project 7 (needs review)"),
        (Role.REVIEWER, Action.ADD_ITEMS, "a reviewer may not do this in project 7 (needs items.add)"),
        (Role.MANAGER, Action.READ_AUDIT, "a manager may not do this in project 7 (needs audit.read)"),
    ],
    ids=["annotator", "viewer", "reviewer", "manager"],
)
def test_a_refusal_names_the_role_and_the_action(role: Role, action: Action, message: str) -> None:
    access = policy.ProjectAccess(
        user=auth.CurrentUser(id=1, username="u", is_admin=False), project_id=7, role=role
    )
    with pytest.raises(PermissionDeniedError) as refused:
        access.require(action)
    assert refused.value.message == message


def test_access_is_loaded_per_project_and_item(db: Database) -> None:
    owner = auth.create_user(db, "olive", "olive-password")
    ann = auth.create_user(db, "ann", "ann-password")
    stranger = auth.create_user(db, "sam", "sam-password")
    pid = projects.create_project(db, owner.id, ProjectCreate(name="p", labels=["a"])).id
    ids = items.add_items(db, pid, owner.id, [ItemIn(text="x"), ItemIn(text="y")], ItemLimits())
    members.add_member(db, None, pid, "ann", Role.ANNOTATOR)

    assert policy.project_access(db, owner, pid).role is Role.OWNER
    with pytest.raises(NotFoundError, match=f"project {pid} not found"):
        policy.project_access(db, stranger, pid)
    with pytest.raises(PermissionDeniedError, match=r"needs items\.add"):
        policy.project_access(db, ann, pid, Action.ADD_ITEMS)
    assert policy.visible_project_ids(db, ann) == {pid}
    assert policy.visible_project_ids(db, stranger) == set()

    with pytest.raises(NotFoundError, match=f"item {ids[0]} not found"):
        policy.item_access(db, ann, ids[0])
    served = queue.next_items(db, pid, ann.id, count=1)[0].id
    assert policy.item_access(db, ann, served).role is Role.ANNOTATOR
    with pytest.raises(NotFoundError, match=f"item {ids[0]} not found"):
        policy.item_access(db, stranger, ids[0])
