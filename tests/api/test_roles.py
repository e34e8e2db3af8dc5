"""Every API route × every role: who gets through, and nobody outside learns anything.

The routes come from the app's own OpenAPI schema, so a new route is walked
too: every operation must be named in ``ALLOWED`` (or ``ACCOUNT_ROUTES``), or
the walk fails. Routes named in ``ALLOWED`` must let through exactly the roles
listed there (and administrators); every project route must refuse anonymous
callers (401) and members of another project (404, never 403: the ids of
other projects reveal nothing), and must never answer them with data. Every
path parameter is filled with a real object of the project (and, for the
IDOR check, with a real object of another project).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, update

from hitloop.api.context import AppContext
from hitloop.db.tables import Annotation, Invite
from hitloop.jobs import records
from hitloop.schemas import AnnotationIn, GoldMark, ItemIn, ProjectCreate
from hitloop.services import annotations as annotation_service
from hitloop.services import auth, gold, invites, items, members, projects
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
JOB = "/api/jobs/{job_id}"

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
    ("GET", f"{ITEM}/samples"): READERS,
    ("GET", f"{ITEM}/thumbnail"): READERS,
    ("GET", f"{ITEM}/view"): READERS,
    ("POST", f"{ITEM}/annotations"): LABELERS,
    ("GET", f"{PROJECT}/members"): MANAGERS,
    ("POST", f"{PROJECT}/members"): MANAGERS,
    ("PATCH", f"{PROJECT}/members/{{user_id}}"): MANAGERS,
    ("DELETE", f"{PROJECT}/members/{{user_id}}"): MANAGERS,
    ("GET", f"{PROJECT}/invites"): MANAGERS,
    ("POST", f"{PROJECT}/invites"): MANAGERS,
    ("DELETE", f"{PROJECT}/invites/{{invite_id}}"): MANAGERS,
    ("GET", f"{PROJECT}/team"): MANAGERS,
    ("PATCH", f"{PROJECT}/team"): MANAGERS,
    ("GET", f"{PROJECT}/gold"): MANAGERS,
    ("POST", f"{PROJECT}/gold"): MANAGERS,
    ("DELETE", f"{PROJECT}/gold/{{item_id}}"): MANAGERS,
    ("GET", f"{PROJECT}/gold/accuracy"): MANAGERS,
    ("POST", f"{PROJECT}/train"): MANAGERS,
    ("POST", f"{PROJECT}/jobs"): MANAGERS,
    ("GET", JOB): EVERYONE,
    ("POST", f"{JOB}/cancel"): MANAGERS,
    ("POST", f"{JOB}/rerun"): MANAGERS,
    ("PATCH", f"{PROJECT}/loop"): MANAGERS,
    ("GET", f"{PROJECT}/models"): EVERYONE,
    ("GET", f"{PROJECT}/jobs"): EVERYONE,
    ("GET", f"{PROJECT}/loop"): EVERYONE,
    ("GET", f"{PROJECT}/review"): REVIEWERS,
    ("POST", "/api/annotations/{annotation_id}/review"): REVIEWERS,
    ("GET", f"{PROJECT}/agreement"): READERS,
    ("GET", f"{PROJECT}/consensus"): READERS,
    ("GET", f"{PROJECT}/consensus/export"): READERS,
    ("PUT", f"{PROJECT}/consensus/method"): MANAGERS,
    ("GET", f"{PROJECT}/anchoring"): READERS,
    ("GET", f"{PROJECT}/boxes/quality"): READERS,
    ("GET", f"{PROJECT}/coco"): READERS,
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
    ("POST", "/api/invites/accept"),  # anyone holding an invite's secret (tests/api/test_invites_api.py)
    ("GET", "/api/projects"),
    ("POST", "/api/projects"),
}
# About the instance, for administrators only: everyone else gets 403, whatever their project roles.
# (Not in ALLOWED: its walk expects outsiders to get 404, right for project routes alone.)
ADMIN_ROUTES = {
    ("GET", "/api/users"),
    ("POST", "/api/users"),
    ("GET", "/api/audit"),
    ("GET", "/api/audit/export"),
}
ACCOUNT_ROUTES |= ADMIN_ROUTES
_HIDDEN = re.compile(r"^(project|item|job|annotation|invite) \d+ not found$")


@dataclass
class Objects:
    """One real object per kind of path parameter, all of one project."""

    project_id: int
    item_id: int  # a regular item, served to nobody
    gold_id: int
    user_id: int  # a member the member routes act on
    annotation_id: int  # an answer by that member (nobody reviews their own)
    job_id: int
    invite_id: int  # a pending invite


@dataclass
class World:
    client: TestClient
    tokens: dict[str, str]  # role (and "outsider", "admin") -> API token
    mine: Objects  # the project every role belongs to
    other: Objects  # the outsider's project

    @property
    def project_id(self) -> int:
        return self.mine.project_id

    @property
    def item_id(self) -> int:
        return self.mine.item_id

    @property
    def gold_id(self) -> int:
        return self.mine.gold_id

    @property
    def target_id(self) -> int:
        return self.mine.user_id


def _objects(db: Any, project_id: int, member: Any, text: str, label: str) -> Objects:
    """Three items (the last one gold), ``member``'s answer to the second, and a queued job."""
    ids = items.add_items(db, project_id, None, [ItemIn(text=f"{text} {i}") for i in range(3)], ItemLimits())
    body = AnnotationIn(value={"label": label}, client_key=uuid.uuid4().hex)
    answer = annotation_service.submit(db, member.id, ids[1], body)
    gold.mark_gold(db, None, project_id, [GoldMark(item_id=ids[2], value={"label": label})])
    job = records.create(db, "featurize", project_id=project_id)
    invite = invites.create_invite(db, None, project_id, Role.ANNOTATOR)
    return Objects(project_id, ids[0], ids[2], member.id, answer.id, job.id, invite.id)


@pytest.fixture
def world(ctx: AppContext, client: TestClient) -> Iterator[World]:
    db = ctx.db
    users = {name: auth.create_user(db, name, f"{name}-password") for name in (*ROLES, "outsider", "target")}
    admin = auth.create_user(db, "root", "root-password", is_admin=True)
    project = projects.create_project(db, users["owner"].id, ProjectCreate(name="p", labels=["a", "b"]))
    for role in ROLES[1:]:
        members.add_member(db, None, project.id, role, Role(role))
    members.add_member(db, None, project.id, "target", Role.ANNOTATOR)
    mine = _objects(db, project.id, users["target"], "t", "a")
    other = projects.create_project(db, users["outsider"].id, ProjectCreate(name="q", labels=["x"]))
    theirs = _objects(db, other.id, users["outsider"], "secret", "x")
    tokens = {name: auth.create_token(db, u.id)[1] for name, u in users.items()}
    tokens["admin"] = auth.create_token(db, admin.id)[1]
    yield World(client, tokens, mine, theirs)


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
    if path.endswith("/review") and method == "POST":
        return {"action": "accept"}
    if path.endswith("/jobs") and method == "POST":
        return {"kind": "featurize"}
    if path.endswith("/loop"):
        return {}
    if path.endswith("/invites") and method == "POST":
        return {"role": "annotator"}
    return None


_PARAM = re.compile(r"\{(\w+)\}")
MISSING = 99_999


def _url(path: str, objects: Objects | None) -> str:
    """``path`` with every parameter filled from ``objects`` (None: ids that do not exist)."""

    def fill(match: re.Match[str]) -> str:
        name = match[1]
        if objects is None:
            return str(MISSING)
        if name == "item_id" and path.endswith("/gold/{item_id}"):
            return str(objects.gold_id)
        return str(getattr(objects, name))  # an unknown parameter fails here: add it to Objects

    return _PARAM.sub(fill, path)


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
    with ctx.db.write() as s:  # a revoked invite works again
        s.execute(update(Invite).where(Invite.id == w.mine.invite_id).values(revoked_at=None))
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
        if expected is None:
            problems.append(f"{method} {path}: not in ALLOWED (add it, with the roles it lets through)")
            continue
        for who in (*ROLES, "admin"):
            r = _call(world, who, method, path, _url(path, world.mine))
            _restore(ctx, world)
            should = who == "admin" or who in expected
            if should == _denied(r):
                problems.append(f"{who} {method} {path}: {r.status_code} {r.text[:120]}")
        walked += 1
    assert problems == []
    assert walked == len(ALLOWED) == len(routes) - len(ACCOUNT_ROUTES)
    assert set(ALLOWED) | ACCOUNT_ROUTES == set(routes)  # no stale entries either


def test_outsiders_and_anonymous_callers_learn_nothing(ctx: AppContext, world: World) -> None:
    problems = []
    for method, path in _routes(world.client):
        if (method, path) in ACCOUNT_ROUTES:
            continue
        url = _url(path, world.mine)
        anonymous = _call(world, None, method, path, url)
        if anonymous.status_code != 401:
            problems.append(f"anonymous {method} {path}: {anonymous.status_code}")
        outsider = _call(world, "outsider", method, path, url)
        _restore(ctx, world)
        if outsider.status_code != 404:
            problems.append(f"outsider {method} {path}: {outsider.status_code} {outsider.text[:120]}")
        if outsider.is_success:
            problems.append(f"outsider {method} {path} got data: {outsider.text[:120]}")
    assert problems == []


def test_a_project_member_cannot_reach_another_projects_objects(ctx: AppContext, world: World) -> None:
    """IDOR: the owner of project p, with ids of project q, gets the same 404 as for missing ids."""
    theirs = {str(v) for v in vars(world.other).values()}
    for method, path in _routes(world.client):
        if (method, path) not in ALLOWED:
            continue
        r = _call(world, "owner", method, path, _url(path, world.other))
        missing = _call(world, "owner", method, path, _url(path, None))
        assert r.status_code == 404, (method, path, r.status_code, r.text)
        assert "secret" not in r.text
        message = re.sub(r"\d+", lambda m: "N" if m[0] in theirs else m[0], r.json()["error"]["message"])
        assert message == missing.json()["error"]["message"].replace(str(MISSING), "N"), (method, path)


def test_admin_routes_refuse_everyone_but_administrators(world: World) -> None:
    assert set(_routes(world.client)) >= ADMIN_ROUTES
    for method, path in sorted(ADMIN_ROUTES):
        assert _call(world, None, method, path, path).status_code == 401, (method, path)
        for who in (*ROLES, "outsider"):
            r = _call(world, who, method, path, path)
            assert r.status_code == 403, (who, method, path, r.status_code, r.text)
        r = _call(world, "admin", method, path, path)
        assert not _denied(r), (method, path, r.status_code, r.text)


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


def test_a_paused_annotator_gets_403_on_next_and_submit_over_http(ctx: AppContext, world: World) -> None:
    """Through the hot routes' shortcut (hitloop.api.shortcut), which the app serves them with."""
    from hitloop.api.shortcut import Shortcut

    h = {"Authorization": f"Bearer {world.tokens['annotator']}"}
    c = world.client
    [held] = c.post(f"/api/projects/{world.project_id}/next", json={"count": 1}, headers=h).json()["items"]
    (middleware,) = [m for m in c.app.user_middleware if m.cls is Shortcut]  # type: ignore[attr-defined]
    patterns = [re.compile(pattern) for _method, pattern, _endpoint in middleware.kwargs["routes"]]
    for url in (f"/api/projects/{world.project_id}/next", f"/api/items/{held['id']}/annotations"):
        assert any(p.fullmatch(url) for p in patterns), url  # served by the shortcut, not the router
    annotator = next(m for m in members.list_members(ctx.db, world.project_id) if m.username == "annotator")
    members.update_member(ctx.db, None, world.project_id, annotator.user_id, paused=True)
    with ctx.db.read() as s:
        before = s.scalar(select(func.count()).select_from(Annotation))
    r = c.post(f"/api/projects/{world.project_id}/next", json={"count": 1}, headers=h)
    assert r.status_code == 403 and "you are paused" in r.json()["error"]["message"], r.text
    body = {"value": {"label": "a"}, "client_key": uuid.uuid4().hex}
    r = c.post(f"/api/items/{held['id']}/annotations", json=body, headers=h)  # an item they hold
    assert r.status_code == 403 and "you are paused" in r.json()["error"]["message"], r.text
    with ctx.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Annotation)) == before
    members.update_member(ctx.db, None, world.project_id, annotator.user_id, paused=False)
    assert c.post(f"/api/items/{held['id']}/annotations", json=body, headers=h).status_code == 201
