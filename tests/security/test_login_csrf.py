"""Login CSRF: the forms posted before a session (log in, sign up by invite) refuse other sites' posts.

A hostile page's form reaches the server without the pre-session cookie (SameSite=Lax)
and with ``Sec-Fetch-Site: cross-site``; either alone gets a 403 page that changes nothing.
"""

from __future__ import annotations

from http.cookies import SimpleCookie
from typing import Any

import pytest
from sqlalchemy import select

from hitloop.db.tables import Event, Invite, LoginThrottle, User
from hitloop.db.tables import Session as DbSession
from hitloop.schemas import ProjectCreate
from hitloop.services import invites, projects
from hitloop.services.auth import CurrentUser
from hitloop.types import Role
from hitloop.web.session import PRESESSION_COOKIE
from tests.web.conftest import ADMIN_PASSWORD, form_token

SESSION = "hitloop_session"
REFUSED = "came from another site"


def _rows(ctx: Any) -> dict[str, int]:
    tables = (User, DbSession, Event, LoginThrottle, Invite)
    with ctx.db.read() as s:
        counts = {t.__tablename__: len(s.scalars(select(t)).all()) for t in tables}
        counts["accepted_invites"] = len(
            s.scalars(select(Invite).where(Invite.accepted_at.is_not(None))).all()
        )
    return counts


# (what the browser has, what the form sends, Sec-Fetch-Site): each a forged or broken post.
FORGED = [
    pytest.param(False, None, "cross-site", id="hostile-form-no-cookie"),
    pytest.param(False, None, None, id="no-cookie-no-header"),
    pytest.param(True, "", None, id="cookie-without-form-token"),
    pytest.param(True, "x" * 43, None, id="wrong-token"),
    pytest.param(False, "own", None, id="attackers-own-token-no-cookie"),
    pytest.param(True, "own", "cross-site", id="right-token-cross-site"),
    pytest.param(True, "own", "same-site", id="right-token-sibling-subdomain"),
]


def _forged_post(
    client: Any, path: str, fields: dict[str, str], has_cookie: bool, sent: str | None, fetch_site: str | None
) -> Any:
    token = form_token(client, path)
    if not has_cookie:
        client.cookies.delete(PRESESSION_COOKIE)
    data = dict(fields)
    if sent is not None:
        data["csrf_token"] = token if sent == "own" else sent
    headers = {"Sec-Fetch-Site": fetch_site} if fetch_site else {}
    return client.post(path, data=data, headers=headers, follow_redirects=False)


@pytest.mark.parametrize(("has_cookie", "sent", "fetch_site"), FORGED)
def test_a_forged_login_post_is_refused_and_starts_no_session(
    client: Any, ctx: Any, admin: CurrentUser, has_cookie: bool, sent: str | None, fetch_site: str | None
) -> None:
    before = _rows(ctx)
    fields = {"username": "admin", "password": ADMIN_PASSWORD, "next": "/"}
    r = _forged_post(client, "/login", fields, has_cookie, sent, fetch_site)
    assert r.status_code == 403 and REFUSED in r.text
    assert SESSION not in r.headers.get("set-cookie", "")
    assert _rows(ctx) == before
    assert client.get("/", follow_redirects=False).status_code == 303  # still logged out


@pytest.fixture
def invite_url(ctx: Any, admin: CurrentUser) -> str:
    project = projects.create_project(ctx.db, admin.id, ProjectCreate(name="Team", labels=["a"]))
    url = invites.create_invite(ctx.db, None, project.id, Role.ANNOTATOR).url
    assert url is not None
    return url


@pytest.mark.parametrize(("has_cookie", "sent", "fetch_site"), FORGED)
def test_a_forged_invite_sign_up_is_refused_and_creates_no_user(
    client: Any, ctx: Any, invite_url: str, has_cookie: bool, sent: str | None, fetch_site: str | None
) -> None:
    before = _rows(ctx)
    fields = {"username": "mallory", "password": "mallory-password"}
    r = _forged_post(client, invite_url, fields, has_cookie, sent, fetch_site)
    assert r.status_code == 403 and REFUSED in r.text
    assert SESSION not in r.headers.get("set-cookie", "")
    assert _rows(ctx) == before  # no user, no session, the invite unused


@pytest.mark.parametrize(
    "fetch_site", [None, "same-origin", "none"], ids=["no-header", "same-origin", "typed"]
)
def test_the_login_form_opened_here_logs_in_with_a_new_session(
    client: Any, ctx: Any, admin: CurrentUser, fetch_site: str | None
) -> None:
    token = form_token(client)
    client.cookies.set(SESSION, "planted-before-login")
    headers = {"Sec-Fetch-Site": fetch_site} if fetch_site else {}
    data = {"csrf_token": token, "username": "admin", "password": ADMIN_PASSWORD, "next": "/projects/new"}
    r = client.post("/login", data=data, headers=headers, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/projects/new"
    assert r.cookies[SESSION] not in ("", "planted-before-login")  # session fixation: a new id
    assert client.get("/", follow_redirects=False).status_code == 200


def test_the_sign_up_form_opened_here_creates_the_account(client: Any, ctx: Any, invite_url: str) -> None:
    token = form_token(client, invite_url)
    data = {"csrf_token": token, "username": "nina", "password": "nina-password"}
    r = client.post(invite_url, data=data, headers={"Sec-Fetch-Site": "same-origin"}, follow_redirects=False)
    assert r.status_code == 303 and r.cookies[SESSION]
    assert client.get("/api/me").json()["user"]["username"] == "nina"


def test_the_pre_session_cookie_is_httponly_lax_and_kept_across_tabs(client: Any) -> None:
    first = client.get("/login")
    jar: SimpleCookie = SimpleCookie()
    jar.load(first.headers["set-cookie"])
    morsel = jar[PRESESSION_COOKIE]
    assert morsel["httponly"] is True and morsel["samesite"].lower() == "lax" and morsel["path"] == "/"
    assert not morsel["max-age"]  # gone with the browser session
    assert f'name="csrf_token" value="{morsel.value}"' in first.text
    second = client.get("/login")  # a second tab: the same token, so the first tab's form still posts
    assert "set-cookie" not in second.headers
    assert f'name="csrf_token" value="{morsel.value}"' in second.text


def test_a_planted_malformed_cookie_is_replaced(client: Any) -> None:
    client.cookies.set(PRESESSION_COOKIE, "short")
    r = client.get("/login")
    jar: SimpleCookie = SimpleCookie()
    jar.load(r.headers["set-cookie"])
    assert len(jar[PRESESSION_COOKIE].value) == 43


def test_the_json_login_ignores_a_body_another_sites_form_could_send(
    client: Any, ctx: Any, admin: CurrentUser
) -> None:
    """A cross-site form can post text/plain, never application/json: /api/login needs no form token."""
    before = _rows(ctx)
    body = '{"username": "admin", "password": "' + ADMIN_PASSWORD + '"}'
    r = client.post("/api/login", content=body, headers={"Content-Type": "text/plain"})
    assert r.status_code == 422
    assert SESSION not in r.headers.get("set-cookie", "")
    assert _rows(ctx) == before
