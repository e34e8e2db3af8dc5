"""Every API route × every role: who gets through, and nobody outside learns anything.

The routes come from the app's own OpenAPI schema, so a new route is walked
too. Routes named in ``ALLOWED`` must let through exactly the roles listed
there (and administrators); every project route must refuse anonymous
callers (401) and members of another project (404, never 403: the ids of
other projects reveal nothing), and must never answer them with data.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hitloop.api.context import AppContext
from hitloop.schemas import GoldMark, ItemIn, ProjectCreate
from hitloop.services import auth, gold, items, members, projects
from hitloop.services.items import ItemLimits
from hitloop.types import Role

ROLES = ("owner", "manager", "reviewer", "annotator", "viewer")
EVERYONE = frozenset(ROLES)
LABELERS = frozenset({"owner", "manager", "annotator"})
READERS = frozenset({"owner", "manager", "reviewer", "viewer"})
MANAGERS = frozenset({"owner", "manager"})
REVIEWERS = frozenset({"owner", "manager", "reviewer"})

PROJECT = "/api/projects/{project_id}"
ITEM = "/api/items/{item_id}"

# (method, path) -> the project roles allowed through (administrators always are).
ALLOWED: dict[tuple[str, str], frozenset[str]] = {
    ("GET", PROJECT): EVERYONE,
    ("POST", f"{PROJECT}/items"): MANAGERS,
    ("POST", f"{PROJECT}/images"): MANAGERS,
    ("POST", f"{PROJECT}/audio"): MANAGERS,
    ("POST", f"{PROJECT}/import"): MANAGERS,
    ("GET", f"{PROJECT}/transcripts"): EVERYONE,
    ("POST", f"{PROJECT}/next"): LABELERS,
    ("POST", f"{PROJECT}/release"): LABELERS,
    ("GET", f"{PROJECT}/history"): EVERYONE,
    ("GET", f"{PROJECT}/export"): READERS,
    ("GET", ITEM): READERS,  # annotators: only items served to them (this one was not)
    ("GET", f"{ITEM}/media"): READERS,
    ("GET", f"{ITEM}/audio"): READERS,
    ("POST", f"{ITEM}/annotations"): LABELERS,
    ("GET", f"{PROJECT}/members"): MANAGERS,
    ("POST", f"{PROJECT}/members"): MANAGERS,
    ("PATCH", f"{PROJECT}/members/{{user_id}}"): MANAGERS,
    ("DELETE", f"{PROJECT}/members/{{user_id}}"): MANAGERS,
    ("GET", f"{PROJECT}/team"): MANAGERS,
    ("PATCH", f"{PROJECT}/team"): MANAGERS,
    ("GET", f"{PROJECT}/gold"): MANAGERS,
    ("POST", f"{PROJECT}/gold"): MANAGERS,
    ("DELETE", f"{PROJECT}/gold/{{item_id}}"): MANAGERS,
    ("GET", f"{PROJECT}/gold/accuracy"): MANAGERS,
    ("POST", f"{PROJECT}/train"): MANAGERS,
    ("GET", f"{PROJECT}/models"): EVERYONE,
    ("GET", f"{PROJECT}/jobs"): EVERYONE,
    ("GET", f"{PROJECT}/loop"): EVERYONE,
    ("GET", f"{PROJECT}/review"): REVIEWERS,
    ("GET", f"{PROJECT}/agreement"): READERS,
    ("GET", f"{PROJECT}/consensus"): READERS,
    ("GET", f"{PROJECT}/consensus/export"): READERS,
    ("PUT", f"{PROJECT}/consensus/method"): MANAGERS,
    ("GET", f"{PROJECT}/anchoring"): READERS,
    ("GET", f"{PROJECT}/audit"): frozenset({"owner"}),
    ("GET", f"{PROJECT}/audit/export"): frozenset({"owner"}),
}
# Not about one project: any user, or administrators, or nobody at all.
ACCOUNT_ROUTES = {
    ("GET", "/api/health"),
    ("POST", "/api/login"),
    ("POST", "/api/logout"),
    ("GET", "/api/me"),
    ("GET", "/api/users"),
    ("POST", "/api/users"),
    ("GET", "/api/tokens"),
    ("POST", "/api/tokens"),
    ("DELETE", "/api/tokens/{token_id}"),
    ("GET", "/api/projects"),
    ("POST", "/api/projects"),
}
_HIDDEN = re.compile(r"^(project|item) \d+ not found$")


@dataclass
class World:
    client: TestClient
    tokens: dict[str, str]  # role (and "outsider", "admin") -> API token
    project_id: int
    item_id: int  # a regular item of the project, served to nobody
    gold_id: int
    target_id: int  # a member the member routes act on
    other_item: int  # an item of the outsider's project


@pytest.fixture
def world(ctx: AppContext, client: TestClient) -> Iterator[World]:
    db = ctx.db
    users = {name: auth.create_user(db, name, f"{name}-password") for name in (*ROLES, "outsider", "target")}
    admin = auth.create_user(db, "root", "root-password", is_admin=True)
    project = projects.create_project(db, users["owner"].id, ProjectCreate(name="p", labels=["a", "b"]))
    for role in ROLES[1:]:
        members.add_member(db, None, project.id, role, Role(role))
    members.add_member(db, None, project.id, "target", Role.ANNOTATOR)
    ids = items.add_items(db, project.id, None, [ItemIn(text=f"t{i}") for i in range(3)], ItemLimits())
    gold.mark_gold(db, None, project.id, [GoldMark(item_id=ids[2], value={"label": "a"})])
    other = projects.create_project(db, users["outsider"].id, ProjectCreate(name="q", labels=["x"]))
    [other_item] = items.add_items(db, other.id, None, [ItemIn(text="secret")], ItemLimits())
    tokens = {name: auth.create_token(db, u.id)[1] for name, u in users.items()}
    tokens["admin"] = auth.create_token(db, admin.id)[1]
    yield World(client, tokens, project.id, ids[0], ids[2], users["target"].id, other_item)


def _routes(client: TestClient) -> list[tuple[str, str]]:
    out = []
    for path, operations in client.app.openapi()["paths"].items():  # type: ignore[attr-defined]
        for method in operations:
            out.append((method.upper(), path))
    return out


def _body(method: str, path: str) -> Any:
    """A body that gets past validation, so the answer shows the authorization alone."""
    if path.endswith("/annotations"):
        return {"value": {"label": "a"}, "client_key": uuid.uuid4().hex}
    if path.endswith("/team"):
        return {}
    if path.endswith("/members/{user_id}"):
        return {"role": "annotator"}
    if path.endswith("/consensus/method"):
        return {"method": "auto"}
    return None


def _url(w: World, path: str, *, project_id: int | None = None, item_id: int | None = None) -> str:
    item = item_id or (w.gold_id if path.endswith("/gold/{item_id}") else w.item_id)
    return (
        path.replace("{project_id}", str(project_id or w.project_id))
        .replace("{item_id}", str(item))
        .replace("{user_id}", str(w.target_id))
        .replace("{job_id}", "1")
    )


def _call(w: World, who: str | None, method: str, path: str, url: str) -> Any:
    headers = {"Authorization": f"Bearer {w.tokens[who]}"} if who else {}
    return w.client.request(method, url, json=_body(method, path), headers=headers)


def _denied(r: Any) -> bool:
    if r.status_code in (401, 403):
        return True
    return r.status_code == 404 and bool(_HIDDEN.match(r.json()["error"]["message"]))


def _restore(ctx: AppContext, w: World) -> None:
    """Undo what an allowed call may have changed, so the next caller meets the same world."""
    if not any(m.user_id == w.target_id for m in members.list_members(ctx.db, w.project_id)):
        members.add_member(ctx.db, None, w.project_id, "target", Role.ANNOTATOR)
    if not gold.list_gold(ctx.db, w.project_id):
        gold.mark_gold(ctx.db, None, w.project_id, [GoldMark(item_id=w.gold_id, value={"label": "a"})])


def test_every_project_route_lets_through_exactly_the_allowed_roles(ctx: AppContext, world: World) -> None:
    routes = _routes(world.client)
    walked = 0
    problems = []
    for method, path in routes:
        if (method, path) in ACCOUNT_ROUTES:
            continue
        expected = ALLOWED.get((method, path))
        for who in (*ROLES, "admin"):
            r = _call(world, who, method, path, _url(world, path))
            _restore(ctx, world)
            if expected is None:
                continue  # a route this table does not know yet: the outsider checks still apply
            should = who == "admin" or who in expected
            if should == _denied(r):
                problems.append(f"{who} {method} {path}: {r.status_code} {r.text[:120]}")
        walked += 1
    assert problems == []
    assert walked >= 15


def test_outsiders_and_anonymous_callers_learn_nothing(ctx: AppContext, world: World) -> None:
    problems = []
    for method, path in _routes(world.client):
        if (method, path) in ACCOUNT_ROUTES:
            continue
        url = _url(world, path)
        anonymous = _call(world, None, method, path, url)
        if anonymous.status_code != 401:
            problems.append(f"anonymous {method} {path}: {anonymous.status_code}")
        outsider = _call(world, "outsider", method, path, url)
        _restore(ctx, world)
        # A route this file does not know may refuse a missing body (422) before looking anything up.
        tolerated = {404} if (method, path) in ALLOWED else {404, 422}
        if outsider.status_code not in tolerated:
            problems.append(f"outsider {method} {path}: {outsider.status_code} {outsider.text[:120]}")
        if outsider.is_success:
            problems.append(f"outsider {method} {path} got data: {outsider.text[:120]}")
    assert problems == []


def test_a_project_member_cannot_reach_another_projects_objects(ctx: AppContext, world: World) -> None:
    """IDOR: the owner of project p, with ids of project q, gets the same 404 as for missing ids."""
    for method, path in _routes(world.client):
        if (method, path) not in ALLOWED:
            continue
        url = _url(world, path, project_id=world.project_id + 1, item_id=world.other_item)
        r = _call(world, "owner", method, path, url)
        missing = _call(world, "owner", method, path, _url(world, path, project_id=99_999, item_id=99_999))
        assert r.status_code == 404, (method, path, r.status_code, r.text)
        assert "secret" not in r.text
        assert r.json()["error"]["message"].replace(str(world.other_item), "N").replace(
            str(world.project_id + 1), "N"
        ) == missing.json()["error"]["message"].replace("99999", "N"), (method, path)


def test_people_see_only_their_projects(world: World) -> None:
    def names(who: str) -> list[str]:
        r = world.client.get("/api/projects", headers={"Authorization": f"Bearer {world.tokens[who]}"})
        return [p["name"] for p in r.json()]

    assert names("viewer") == ["p"]
    assert names("outsider") == ["q"]
    assert names("admin") == ["p", "q"]


def test_an_annotator_sees_the_items_served_to_them_and_no_others(world: World) -> None:
    h = {"Authorization": f"Bearer {world.tokens['annotator']}"}
    c = world.client
    [served] = c.post(f"/api/projects/{world.project_id}/next", json={"count": 1}, headers=h).json()["items"]
    assert c.get(f"/api/items/{served['id']}", headers=h).status_code == 200
    others = {world.item_id, world.item_id + 1} - {served["id"]}
    for item_id in others:
        assert c.get(f"/api/items/{item_id}", headers=h).status_code == 404
    r = c.get(f"/api/projects/{world.project_id}/export", headers=h)
    assert r.status_code == 403


def test_annotators_see_every_item_when_the_project_allows_it(world: World) -> None:
    owner = {"Authorization": f"Bearer {world.tokens['owner']}"}
    r = world.client.patch(
        f"/api/projects/{world.project_id}/team", json={"annotator_visibility": "all"}, headers=owner
    )
    assert r.status_code == 200, r.text
    h = {"Authorization": f"Bearer {world.tokens['annotator']}"}
    assert world.client.get(f"/api/items/{world.item_id}", headers=h).status_code == 200
    assert world.client.get(f"/api/projects/{world.project_id}/export", headers=h).status_code == 200


def test_a_gold_item_reads_as_an_ordinary_item(world: World) -> None:
    h = {"Authorization": f"Bearer {world.tokens['viewer']}"}
    body = world.client.get(f"/api/items/{world.gold_id}", headers=h).json()
    assert body["state"] == "open"
    assert "gold" not in body
