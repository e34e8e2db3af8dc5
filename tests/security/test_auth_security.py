"""CSRF on every cookie-authenticated write, session fixation, tokens shown once, scrypt password hashes."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from sqlalchemy import select

from hitloop.db.tables import ApiToken, Event, Project, User
from hitloop.db.tables import Session as DbSession
from hitloop.services.auth import CurrentUser
from tests.web.conftest import ADMIN_PASSWORD, log_in

UNSAFE = {"post", "put", "patch", "delete"}
NO_SESSION_NEEDED = {"/api/login"}


def _unsafe_routes(app: Any) -> list[tuple[str, str]]:
    routes = []
    for path, ops in app.openapi()["paths"].items():
        for method in ops:
            if method in UNSAFE and path not in NO_SESSION_NEEDED:
                routes.append((method.upper(), path))
    return sorted(routes)


def _fill(path: str, project_id: int) -> str:
    out = path
    for name in ("project_id", "item_id", "token_id", "annotation_id", "user_id", "job_id", "model_id"):
        out = out.replace("{" + name + "}", str(project_id))
    return out.replace("{", "").replace("}", "")


def _row_counts(ctx: Any) -> dict[str, int]:
    with ctx.db.read() as s:
        return {t.__tablename__: len(s.scalars(select(t)).all()) for t in (Project, ApiToken, Event, User)}


def _log_in(client: Any, username: str = "admin", password: str = ADMIN_PASSWORD) -> Any:
    r = client.post("/api/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    return r


def test_every_unsafe_api_route_refuses_a_cookie_without_the_csrf_token(
    app: Any, client: Any, ctx: Any, admin: CurrentUser
) -> None:
    _log_in(client)
    project = client.post(
        "/api/projects", json={"name": "p", "labels": ["a"]}, headers={"X-CSRF-Token": _csrf(client)}
    ).json()
    routes = _unsafe_routes(app)
    assert len(routes) >= 8
    before = _row_counts(ctx)
    for method, path in routes:
        url = _fill(path, project["id"])
        for headers in ({}, {"X-CSRF-Token": "forged"}):
            r = client.request(method, url, json={}, headers=headers)
            assert r.status_code == 403, (method, path, r.status_code, r.text)
            assert r.json()["error"]["code"] == "forbidden"
    assert _row_counts(ctx) == before


def _csrf(client: Any) -> str:
    token = client.get("/api/me").json()["csrf_token"]
    assert token
    return str(token)


@pytest.mark.parametrize("form", ["/logout", "/projects/new"])
def test_page_forms_refuse_a_post_without_the_token(
    client: Any, ctx: Any, admin: CurrentUser, form: str
) -> None:
    _log_in(client)
    before = _row_counts(ctx)
    r = client.post(form, data={"name": "x", "labels": "a"}, follow_redirects=False)
    assert r.status_code == 403
    assert _row_counts(ctx) == before
    assert client.get("/api/me").status_code == 200


def test_login_issues_a_fresh_session_whatever_cookie_came_in(
    client: Any, ctx: Any, admin: CurrentUser
) -> None:
    """Session fixation: a cookie planted before login is never the session after it."""
    planted = "attacker-chosen-session-value"
    body = {"username": "admin", "password": ADMIN_PASSWORD}
    r = client.post("/api/login", json=body, headers={"Cookie": f"hitloop_session={planted}"})
    assert r.status_code == 200
    issued = r.cookies.get("hitloop_session")
    assert issued and issued != planted
    with ctx.db.read() as s:
        hashes = set(s.scalars(select(DbSession.token_hash)))
    assert hashlib.sha256(planted.encode()).hexdigest() not in hashes
    assert hashlib.sha256(issued.encode()).hexdigest() in hashes  # stored hashed, never as sent
    again = client.post("/api/login", json=body, headers={"Cookie": f"hitloop_session={issued}"})
    assert again.cookies.get("hitloop_session") not in (None, issued)  # a second login, a new session


def test_api_tokens_are_shown_once_and_stored_hashed(api: Any, ctx: Any) -> None:
    created = api.post("/api/tokens", json={"name": "ci"})
    assert created.status_code == 201
    secret = created.json()["token"]
    assert secret.startswith("hl_") and len(secret) >= 30
    listed = api.get("/api/tokens").json()
    assert all(t.get("token") is None for t in listed)
    assert secret not in api.get("/api/tokens").text
    with ctx.db.read() as s:
        stored = s.scalars(select(ApiToken.token_hash)).all()
    assert hashlib.sha256(secret.encode()).hexdigest() in stored
    assert secret not in stored
    assert api.get("/api/me", headers={"Authorization": f"Bearer {secret}"}).status_code == 200


def test_passwords_are_scrypt_hashes_with_a_salt_each(
    production_password_cost: Any, ctx: Any, admin: CurrentUser
) -> None:
    from hitloop.services import auth

    auth.create_user(ctx.db, "bob", ADMIN_PASSWORD)  # the same password as the admin
    with ctx.db.read() as s:
        hashes = s.scalars(select(User.password_hash)).all()
    assert len(hashes) == 2 and hashes[0] != hashes[1]  # different salts
    for stored in hashes:
        parts = stored.split("$")
        assert len(parts) == 6 and parts[0] == "scrypt"
        assert int(parts[1]) >= 2**14 and int(parts[2]) >= 8  # N and r: memory-hard settings
        assert ADMIN_PASSWORD not in stored


def _form_login(client: Any, password: str) -> Any:
    return log_in(client, "olga", password)


def _api_login(client: Any, password: str) -> Any:
    return client.post("/api/login", json={"username": "olga", "password": password})


@pytest.mark.parametrize(("login", "ok"), [(_form_login, 303), (_api_login, 200)], ids=["form", "api"])
def test_logging_in_upgrades_a_hash_of_the_old_cost_and_a_wrong_password_does_not(
    production_password_cost: Any, client: Any, ctx: Any, login: Any, ok: int
) -> None:
    from hitloop.services import auth
    from hitloop.services.passwords import ScryptCost, hash_password, verify_password

    old = hash_password("olga-password", ScryptCost(2**14, 8, 1))
    with ctx.db.write() as s:
        auth.add_user(s, "olga", old)

    def stored() -> str:
        with ctx.db.read() as s:
            return s.scalars(select(User.password_hash).where(User.username == "olga")).one()

    assert login(client, "wrong-password").status_code == 401
    assert stored() == old
    assert login(client, "olga-password").status_code == ok
    upgraded = stored()
    assert upgraded.startswith("scrypt$16384$8$5$") and verify_password("olga-password", upgraded)
    client.cookies.clear()
    assert login(client, "olga-password").status_code == ok  # the new hash logs in
    assert stored() == upgraded
