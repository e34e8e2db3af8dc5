"""Invites over HTTP: create, list, revoke; accept as a new account (logged in) or as the caller.

Roles per route are checked by tests/api/test_roles.py; here: the secret is
shown once, cookie writes need the CSRF token, failed invites change nothing,
guessed tokens are throttled, a new account gets a fresh session.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from hitloop.api.context import AppContext
from hitloop.db.tables import Membership, User
from hitloop.schemas import ProjectCreate
from hitloop.services import auth, projects, throttle
from hitloop.services.auth import CurrentUser

COOKIE = "hitloop_session"


@pytest.fixture
def owner(ctx: AppContext) -> CurrentUser:
    return auth.create_user(ctx.db, "olive", "olive-password")


@pytest.fixture
def pid(ctx: AppContext, owner: CurrentUser) -> int:
    return projects.create_project(ctx.db, owner.id, ProjectCreate(name="p", labels=["a"])).id


@pytest.fixture
def bearer(ctx: AppContext, owner: CurrentUser) -> dict[str, str]:
    return {"Authorization": f"Bearer {auth.create_token(ctx.db, owner.id)[1]}"}


def _invite(client: Any, pid: int, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    r = client.post(f"/api/projects/{pid}/invites", json=body or {"role": "annotator"}, headers=headers)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def _counts(ctx: AppContext) -> tuple[int, int]:
    with ctx.db.read() as s:
        return (
            int(s.scalar(select(func.count()).select_from(User)) or 0),
            int(s.scalar(select(func.count()).select_from(Membership)) or 0),
        )


def test_create_list_revoke_and_the_secret_is_shown_once(
    client: Any, pid: int, bearer: dict[str, str]
) -> None:
    made = _invite(client, pid, bearer, role="reviewer", days=2)
    assert made["role"] == "reviewer" and made["token"].startswith("hli_")
    assert made["url"] == f"/invite/{made['token']}"
    listed = client.get(f"/api/projects/{pid}/invites", headers=bearer).json()
    assert [i["id"] for i in listed] == [made["id"]]
    assert listed[0]["token"] is None and listed[0]["url"] is None
    assert client.delete(f"/api/projects/{pid}/invites/{made['id']}", headers=bearer).status_code == 204
    assert client.get(f"/api/projects/{pid}/invites", headers=bearer).json() == []
    r = client.delete(f"/api/projects/{pid}/invites/{made['id']}", headers=bearer)
    assert r.status_code == 409 and "already revoked" in r.json()["error"]["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [({"role": "boss"}, "role"), ({"days": 0}, "days"), ({"days": 365}, "days"), ({"x": 1}, "x")],
    ids=["unknown-role", "zero-days", "too-many-days", "unknown-field"],
)
def test_a_bad_invite_request_is_422_naming_the_field(
    client: Any, pid: int, bearer: dict[str, str], body: dict[str, Any], field: str
) -> None:
    r = client.post(f"/api/projects/{pid}/invites", json=body, headers=bearer)
    assert r.status_code == 422, r.text
    assert field in r.json()["error"]["field"]
    assert client.get(f"/api/projects/{pid}/invites", headers=bearer).json() == []


def test_a_new_person_signs_up_and_is_logged_in_with_a_fresh_session(
    ctx: AppContext, client: Any, pid: int, bearer: dict[str, str]
) -> None:
    secret = _invite(client, pid, bearer)["token"]
    planted = "planted-session-id"
    body = {"token": secret, "username": "newbie", "password": "newbie-password"}
    r = client.post("/api/invites/accept", json=body, headers={"Cookie": f"{COOKIE}={planted}"})
    assert r.status_code == 200, r.text
    out = r.json()
    assert out["created_account"] and out["project_id"] == pid and out["role"] == "annotator"
    assert out["user"]["username"] == "newbie" and out["csrf_token"]
    cookie = r.cookies[COOKIE]
    assert cookie != planted
    client.cookies.clear()
    me = client.get("/api/me", headers={"Cookie": f"{COOKIE}={cookie}"})
    assert me.json()["user"]["username"] == "newbie"
    project = client.get(f"/api/projects/{pid}", headers={"Cookie": f"{COOKIE}={cookie}"})
    assert project.status_code == 200
    # Used: a second person gets 409 and nothing changes.
    before = _counts(ctx)
    again = client.post("/api/invites/accept", json={**body, "username": "second"})
    assert again.status_code == 409 and "already used" in again.json()["error"]["message"]
    assert _counts(ctx) == before


def test_a_logged_in_browser_accepts_with_the_csrf_token(
    ctx: AppContext, client: Any, pid: int, bearer: dict[str, str]
) -> None:
    secret = _invite(client, pid, bearer, role="viewer")["token"]
    auth.create_user(ctx.db, "ann", "ann-password")
    login = client.post("/api/login", json={"username": "ann", "password": "ann-password"})
    csrf = login.json()["csrf_token"]
    before = _counts(ctx)
    r = client.post("/api/invites/accept", json={"token": secret})
    assert r.status_code == 403 and "CSRF" in r.text
    assert _counts(ctx) == before
    r = client.post(
        "/api/invites/accept", json={"token": secret, "username": "x"}, headers={"X-CSRF-Token": csrf}
    )
    assert r.status_code == 422 and r.json()["error"]["field"] == "username"
    r = client.post("/api/invites/accept", json={"token": secret}, headers={"X-CSRF-Token": csrf})
    assert r.status_code == 200, r.text
    assert r.json()["user"]["username"] == "ann" and not r.json()["created_account"]
    assert r.json()["role"] == "viewer"


def test_creating_an_invite_from_a_browser_needs_the_csrf_token(
    client: Any, owner: CurrentUser, pid: int
) -> None:
    login = client.post("/api/login", json={"username": "olive", "password": "olive-password"})
    r = client.post(f"/api/projects/{pid}/invites", json={"role": "annotator"})
    assert r.status_code == 403
    r = client.post(
        f"/api/projects/{pid}/invites",
        json={"role": "annotator"},
        headers={"X-CSRF-Token": login.json()["csrf_token"]},
    )
    assert r.status_code == 201
    invite_id = r.json()["id"]
    assert client.delete(f"/api/projects/{pid}/invites/{invite_id}").status_code == 403
    assert len(client.get(f"/api/projects/{pid}/invites").json()) == 1


def test_an_api_token_accepts_for_its_user(
    ctx: AppContext, client: Any, pid: int, bearer: dict[str, str]
) -> None:
    secret = _invite(client, pid, bearer)["token"]
    ann = auth.create_user(ctx.db, "ann", "ann-password")
    h = {"Authorization": f"Bearer {auth.create_token(ctx.db, ann.id)[1]}"}
    r = client.post("/api/invites/accept", json={"token": secret}, headers=h)
    assert r.status_code == 200 and r.json()["user"]["id"] == ann.id
    assert COOKIE not in r.cookies  # an API client gets no browser session


def test_anonymous_without_an_account_is_asked_for_a_username(
    ctx: AppContext, client: Any, pid: int, bearer: dict[str, str]
) -> None:
    secret = _invite(client, pid, bearer)["token"]
    r = client.post("/api/invites/accept", json={"token": secret})
    assert r.status_code == 422 and r.json()["error"]["field"] == "username"
    r = client.post(
        "/api/invites/accept", json={"token": secret, "username": "a b", "password": "long-enough"}
    )
    assert r.status_code == 422 and "username" in r.json()["error"]["field"]


def test_guessed_tokens_are_throttled_with_429(
    ctx: AppContext, client: Any, pid: int, bearer: dict[str, str]
) -> None:
    secret = _invite(client, pid, bearer)["token"]
    body = {"username": "guesser", "password": "guess-password"}
    for i in range(throttle.MAX_ADDRESS_FAILURES):
        r = client.post("/api/invites/accept", json={"token": f"hli_guess{i}", **body})
        assert r.status_code == 404 and "not valid" in r.json()["error"]["message"]
    r = client.post("/api/invites/accept", json={"token": secret, **body})
    assert r.status_code == 429 and 0 < int(r.headers["Retry-After"]) <= throttle.LOCKOUT_S
    assert "too many failed invite attempts" in r.json()["error"]["message"]
    assert len(client.get(f"/api/projects/{pid}/invites", headers=bearer).json()) == 1
