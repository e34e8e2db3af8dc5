"""A first answer needs the item served to the caller; a withdrawn answer is not given again.

Over HTTP (the shortcut routes), as annotators: an item never served to them
(answer or skip), an item a reviewer rejected or fixed their answer to, and
what must keep working: going back to fix one's own answer, overlap k > 1,
gold items. Each refusal is a 409 naming the item and stores nothing.
"""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from hitloop.db.tables import Annotation, Item
from hitloop.errors import ConflictError
from hitloop.schemas import AnnotationIn, GoldMark, ItemIn, ProjectCreate, TeamSettingsUpdate
from hitloop.services import annotations as annotation_service
from hitloop.services import auth, gold, items, members, projects, queue, team
from hitloop.services.auth import CurrentUser
from hitloop.services.items import ItemLimits
from hitloop.types import Role


def _person(app: Any, ctx: Any, pid: int, name: str, role: Role) -> TestClient:
    user = auth.create_user(ctx.db, name, f"{name}-password")
    members.add_member(ctx.db, None, pid, name, role)
    client = TestClient(app)
    client.headers["Authorization"] = f"Bearer {auth.create_token(ctx.db, user.id, 't')[1]}"
    return client


@pytest.fixture
def world(app: Any, ctx: Any) -> dict[str, Any]:
    owner = auth.create_user(ctx.db, "owner", "owner-password")
    pid = projects.create_project(ctx.db, owner.id, ProjectCreate(name="p", labels=["a", "b"])).id
    ids = items.add_items(ctx.db, pid, None, [ItemIn(text=f"secret {i}") for i in range(6)], ItemLimits())
    people = {
        name: _person(app, ctx, pid, name, role)
        for name, role in (("ann", Role.ANNOTATOR), ("bob", Role.ANNOTATOR), ("rev", Role.REVIEWER))
    }
    return {"pid": pid, "ids": ids, **people}


def _answer(client: TestClient, item_id: int, label: str | None = "a") -> Any:
    body: dict[str, Any] = {"client_key": uuid.uuid4().hex}
    body.update({"value": {"label": label}} if label else {"skip": True})
    return client.post(f"/api/items/{item_id}/annotations", json=body)


def _next(client: TestClient, pid: int, count: int = 1) -> list[int]:
    r = client.post(f"/api/projects/{pid}/next", json={"count": count})
    assert r.status_code == 200, r.text
    return [it["id"] for it in r.json()["items"]]


def _snapshot(ctx: Any) -> tuple[Any, ...]:
    with ctx.db.read() as s:
        n = s.scalar(select(func.count()).select_from(Annotation))
        rows = s.execute(select(Item.id, Item.state, Item.leased_by, Item.n_answers).order_by(Item.id)).all()
    return (n, [tuple(r) for r in rows])


@pytest.mark.parametrize("label", ["a", None], ids=["answer", "skip"])
def test_a_never_served_item_is_refused_and_stays_hidden(
    world: dict[str, Any], ctx: Any, label: str | None
) -> None:
    ann, target = world["ann"], world["ids"][-1]
    before = _snapshot(ctx)
    r = _answer(ann, target, label)
    assert r.status_code == 409, r.text
    error = r.json()["error"]
    assert f"item {target} is not held by you" in error["message"] and error["field"] == "item_id"
    assert _snapshot(ctx) == before
    assert ann.get(f"/api/items/{target}").status_code == 404  # no answer, so still not theirs


def test_an_item_held_by_someone_else_is_refused(world: dict[str, Any], ctx: Any) -> None:
    [held] = _next(world["bob"], world["pid"])
    before = _snapshot(ctx)
    r = _answer(world["ann"], held)
    assert r.status_code == 409 and f"item {held} is not held by you" in r.json()["error"]["message"]
    assert _snapshot(ctx) == before
    assert _answer(world["bob"], held).status_code == 201


@pytest.mark.parametrize("action", ["reject", "fix"])
def test_an_annotator_whose_answer_was_withdrawn_cannot_answer_again(
    world: dict[str, Any], ctx: Any, action: str
) -> None:
    pid, ann, bob, rev = world["pid"], world["ann"], world["bob"], world["rev"]
    [item_id] = _next(ann, pid)
    first = _answer(ann, item_id, "a").json()["id"]
    decision: dict[str, Any] = {"action": action}
    if action == "fix":
        decision["value"] = {"label": "b"}
    assert rev.post(f"/api/annotations/{first}/review", json=decision).status_code == 200
    before = _snapshot(ctx)
    for label in ("b", None):  # neither a new answer nor a skip
        r = _answer(ann, item_id, label)
        assert r.status_code == 409, r.text
        verb = "rejected" if action == "reject" else "fixed"
        assert r.json()["error"]["message"].startswith(f"a reviewer {verb} your answer to item {item_id}")
    assert _snapshot(ctx) == before
    assert item_id not in _next(ann, pid, 8)  # nor is it served to them again
    if action == "reject":  # back in the queue for someone else
        assert item_id in _next(bob, pid, 8)
        assert _answer(bob, item_id).status_code == 201


def test_going_back_to_fix_ones_own_answer_still_works(world: dict[str, Any], ctx: Any) -> None:
    pid, ann = world["pid"], world["ann"]
    first, second = _next(ann, pid, 2)
    a1 = _answer(ann, first, "a")
    s1 = _answer(ann, second, None)  # a skip, then an answer to the same item
    assert (a1.status_code, s1.status_code) == (201, 201)
    # The items are done (first) or back in the queue (second); the person holds neither.
    a2 = _answer(ann, first, "b")
    s2 = _answer(ann, second, "a")
    assert (a2.status_code, s2.status_code) == (201, 201), (a2.text, s2.text)
    with ctx.db.read() as s:
        rows = s.execute(select(Annotation.id, Annotation.superseded_by).order_by(Annotation.id)).all()
    assert [tuple(r) for r in rows] == [
        (a1.json()["id"], a2.json()["id"]),
        (s1.json()["id"], s2.json()["id"]),
        (a2.json()["id"], None),
        (s2.json()["id"], None),
    ]
    history = ann.get(f"/api/projects/{pid}/history").json()
    assert [h["item"]["state"] for h in history] == ["done", "done"]


def test_overlap_k_takes_answers_from_those_served(world: dict[str, Any], ctx: Any, app: Any) -> None:
    pid, ann, bob = world["pid"], world["ann"], world["bob"]
    team.update_team_settings(ctx.db, None, pid, TeamSettingsUpdate(overlap=2))
    cy = _person(app, ctx, pid, "cy", Role.ANNOTATOR)
    [item_id] = _next(ann, pid)
    assert _next(bob, pid) == [item_id]  # breadth-first: the started item first
    r = _answer(cy, item_id)
    assert r.status_code == 409 and f"item {item_id} is not held by you" in r.json()["error"]["message"]
    assert (_answer(ann, item_id).status_code, _answer(bob, item_id, "b").status_code) == (201, 201)
    assert _answer(ann, item_id, "b").status_code == 201  # back-to-fix on a done item
    with ctx.db.read() as s:
        assert s.execute(select(Item.state, Item.n_answers).where(Item.id == item_id)).one() == ("done", 2)


def test_gold_items_take_answers_from_those_served(world: dict[str, Any], ctx: Any) -> None:
    pid, ids, ann, bob = world["pid"], world["ids"], world["ann"], world["bob"]
    gold.mark_gold(ctx.db, None, pid, [GoldMark(item_id=ids[0], value={"label": "a"})])
    team.update_team_settings(ctx.db, None, pid, TeamSettingsUpdate(gold_rate=1.0))
    assert _next(ann, pid) == [ids[0]]
    before = _snapshot(ctx)
    assert _answer(bob, ids[0]).status_code == 409  # gold, but not served to bob (yet)
    assert _snapshot(ctx) == before
    assert _answer(ann, ids[0]).status_code == 201
    assert _next(bob, pid) == [ids[0]]
    assert _answer(bob, ids[0]).status_code == 201


def test_a_hold_counts_until_the_sweep_returns_the_item(ctx: Any) -> None:
    """An expired hold still takes the answer; once the sweep has returned the item, it does not."""
    db = ctx.db
    owner = auth.create_user(db, "owner", "owner-password")
    pid = projects.create_project(db, owner.id, ProjectCreate(name="p", labels=["a", "b"])).id
    items.add_items(db, pid, None, [ItemIn(text=f"t{i}") for i in range(3)], ItemLimits())
    people = []
    for name in ("ann", "bob"):
        user = auth.create_user(db, name, f"{name}-password")
        members.add_member(db, None, pid, name, Role.ANNOTATOR)
        people.append(CurrentUser(id=user.id, username=name, is_admin=False))
    ann, bob = people
    t0 = 1_000_000.0

    def answer(who: CurrentUser, item_id: int, now: float) -> Any:
        body = AnnotationIn(value={"label": "a"}, client_key=uuid.uuid4().hex)
        return annotation_service.submit(db, who.id, item_id, body, now=now, caller=who)

    first, second, third = (
        i.id for i in queue.next_items(db, pid, ann.id, count=3, lease_seconds=10, now=t0, caller=ann)
    )
    assert answer(ann, first, t0 + 60).item_id == first  # ran out, but nobody swept it
    # Bob's "next" sweeps the expired holds back to the queue and takes one of them.
    assert [i.id for i in queue.next_items(db, pid, bob.id, count=1, now=t0 + 61, caller=bob)] == [second]
    for item_id in (second, third):  # taken by bob / back in the queue, nobody's
        with pytest.raises(ConflictError, match=f"item {item_id} is not held by you"):
            answer(ann, item_id, t0 + 62)
    assert answer(bob, second, t0 + 62).item_id == second
    assert [i.id for i in queue.next_items(db, pid, ann.id, count=1, now=t0 + 63, caller=ann)] == [third]
    assert answer(ann, third, t0 + 64).item_id == third


@pytest.mark.parametrize("role", [Role.OWNER, Role.MANAGER, "admin"])
def test_owners_managers_and_admins_may_answer_any_open_item(
    world: dict[str, Any], ctx: Any, app: Any, role: Role | str
) -> None:
    if role == "admin":
        user = auth.create_user(ctx.db, "root", "root-password", is_admin=True)
        client = TestClient(app)
        client.headers["Authorization"] = f"Bearer {auth.create_token(ctx.db, user.id, 't')[1]}"
    else:
        client = _person(app, ctx, world["pid"], f"boss-{role}", role)
    target = world["ids"][-1]
    r = _answer(client, target)
    assert r.status_code == 201, r.text
    [held] = _next(world["bob"], world["pid"])  # still: an item someone holds is theirs
    r = _answer(client, held)
    assert r.status_code == 409 and "reserved by another annotator" in r.json()["error"]["message"]
