"""The SDK's team methods against the in-process app: members, team settings, gold items."""

from __future__ import annotations

from typing import Any

import pytest

from hitloop.client import Client
from hitloop.errors import ConflictError, InputError, NotFoundError, PermissionDeniedError
from hitloop.schemas import ProjectOut
from hitloop.services import auth
from hitloop.types import Role


def test_members_round_trip(sdk: Client, project: ProjectOut, ctx: Any, transport: Any) -> None:
    auth.create_user(ctx.db, "ann", "ann-password")
    ann = sdk.add_member(project.id, "ann", "annotator")
    assert ann.role is Role.ANNOTATOR
    with pytest.raises(ConflictError):
        sdk.add_member(project.id, "ann")
    with pytest.raises(NotFoundError):
        sdk.add_member(project.id, "nobody")
    assert sdk.update_member(project.id, ann.user_id, role="viewer").role is Role.VIEWER
    assert sdk.update_member(project.id, ann.user_id, paused=True).paused
    assert [m.username for m in sdk.members(project.id)] == ["admin", "ann"]
    sdk.remove_member(project.id, ann.user_id)
    assert [m.username for m in sdk.members(project.id)] == ["admin"]


def test_team_settings_and_gold(sdk: Client, project: ProjectOut, ctx: Any, transport: Any) -> None:
    ids = sdk.add_items(project.id, [{"text": "one", "external_id": "x1"}, "two", "three"])
    assert sdk.team_settings(project.id).overlap == 1
    got = sdk.update_team_settings(project.id, overlap=2, overlap_max=3, gold_rate=1.0)
    assert (got.overlap, got.overlap_max, got.gold_rate) == (2, 3, 1.0)
    with pytest.raises(InputError) as info:
        sdk.update_team_settings(project.id, overlap=0)
    assert info.value.field == "overlap"
    assert sdk.mark_gold(project.id, {"x1": "pos", ids[1]: {"label": "neg"}}) == 2
    with pytest.raises(InputError):
        sdk.mark_gold(project.id, {ids[2]: "maybe"})
    assert {g.item_id for g in sdk.gold(project.id)} == set(ids[:2])
    [first] = sdk.next(project.id)  # gold_rate 1.0: a gold item, unmarked
    assert first.id in ids[:2] and first.state == "leased"
    sdk.submit(first.id, label="pos")
    [me] = sdk.gold_accuracy(project.id)
    assert me.answers == 1
    sdk.unmark_gold(project.id, [ids[1]])
    assert [g.item_id for g in sdk.gold(project.id)] == [ids[0]]


def test_an_annotator_may_not_manage(sdk: Client, project: ProjectOut, ctx: Any, transport: Any) -> None:
    ann = auth.create_user(ctx.db, "ann", "ann-password")
    sdk.add_member(project.id, "ann", "annotator")
    _, secret = auth.create_token(ctx.db, ann.id, "t")
    with Client("http://testserver", secret, transport=transport) as as_ann:
        with pytest.raises(PermissionDeniedError):
            as_ann.members(project.id)
        with pytest.raises(PermissionDeniedError):
            as_ann.mark_gold(project.id, {"x": "pos"})


def test_invites_round_trip(sdk: Client, project: ProjectOut, ctx: Any, transport: Any) -> None:
    made = sdk.create_invite(project.id, "reviewer", days=2)
    assert made.role is Role.REVIEWER and made.token and made.url == f"/invite/{made.token}"
    assert [(i.id, i.token) for i in sdk.invites(project.id)] == [(made.id, None)]
    ann = auth.create_user(ctx.db, "ann", "ann-password")
    with Client(
        "http://testserver", auth.create_token(ctx.db, ann.id)[1], transport=transport, backoff=0
    ) as c:
        done = c.accept_invite(made.token)
        assert (done.project_id, done.role, done.user.username) == (project.id, Role.REVIEWER, "ann")
        with pytest.raises(ConflictError, match="already used"):
            c.accept_invite(made.token)
        with pytest.raises(NotFoundError, match="not valid"):
            c.accept_invite("hli_not-a-real-one")
    assert sdk.invites(project.id) == []
    second = sdk.create_invite(project.id)
    sdk.revoke_invite(project.id, second.id)
    assert sdk.invites(project.id) == []
    with pytest.raises(InputError) as info:
        sdk.create_invite(project.id, days=0)
    assert info.value.field == "days"
