"""Invites on the pages: the team panel creates (shown once), lists, revokes; /invite/<secret> joins."""

from __future__ import annotations

import re
from typing import Any

from hitloop.schemas import ProjectCreate
from hitloop.services import auth, invites, members, projects
from hitloop.types import Role
from tests.web.conftest import form_token, log_in

COOKIE = "hitloop_session"


def _setup(ctx: Any) -> int:
    owner = auth.create_user(ctx.db, "olive", "olive-password")
    auth.create_user(ctx.db, "vera", "vera-password")
    project = projects.create_project(ctx.db, owner.id, ProjectCreate(name="Team", labels=["a", "b"]))
    members.add_member(ctx.db, None, project.id, "vera", Role.VIEWER)
    return project.id


def _session(client: Any, username: str) -> str:
    assert log_in(client, username, f"{username}-password").status_code == 303
    return str(client.get("/api/me").json()["csrf_token"])


def test_the_team_panel_creates_shows_once_lists_and_revokes(client: Any, ctx: Any) -> None:
    pid = _setup(ctx)
    csrf = _session(client, "olive")
    assert 'aria-label="Create an invite link"' in client.get(f"/projects/{pid}").text
    r = client.post(f"/projects/{pid}/invites", data={"csrf_token": "wrong", "role": "reviewer"})
    assert r.status_code == 403 and invites.list_invites(ctx.db, pid) == []
    r = client.post(f"/projects/{pid}/invites", data={"csrf_token": csrf, "role": "reviewer", "days": "2"})
    assert r.status_code == 201
    link = re.search(r'value="(http://testserver/invite/hli_[\w-]+)"', r.text)
    assert link is not None and "shown only now" in r.text
    [pending] = invites.list_invites(ctx.db, pid)
    assert pending.role is Role.REVIEWER
    page = client.get(f"/projects/{pid}").text
    assert f'data-invite="{pending.id}"' in page and link[1] not in page  # listed, secret not shown again
    r = client.post(f"/projects/{pid}/invites/{pending.id}/revoke", data={"csrf_token": ""})
    assert r.status_code == 403 and len(invites.list_invites(ctx.db, pid)) == 1
    r = client.post(
        f"/projects/{pid}/invites/{pending.id}/revoke", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert r.status_code == 303 and invites.list_invites(ctx.db, pid) == []
    client.cookies.clear()
    r = client.get(link[1].removeprefix("http://testserver"))
    assert r.status_code == 409 and "revoked" in r.text


def test_a_viewer_sees_no_invites_and_cannot_create_one(client: Any, ctx: Any) -> None:
    pid = _setup(ctx)
    csrf = _session(client, "vera")
    assert "Create an invite link" not in client.get(f"/projects/{pid}").text
    r = client.post(f"/projects/{pid}/invites", data={"csrf_token": csrf, "role": "annotator"})
    assert r.status_code == 403 and invites.list_invites(ctx.db, pid) == []


def test_a_newcomer_signs_up_on_the_invite_page_and_lands_on_the_project(client: Any, ctx: Any) -> None:
    pid = _setup(ctx)
    url = invites.create_invite(ctx.db, None, pid, Role.ANNOTATOR).url
    assert url is not None
    page = client.get(url)
    assert (
        page.status_code == 200 and "Join Team" in page.text and 'data-invite-role="annotator"' in page.text
    )
    token = form_token(client, url)
    r = client.post(url, data={"csrf_token": token, "username": "vera", "password": "long-enough"})
    assert r.status_code == 409 and "already exists" in r.text and 'value="vera"' in r.text
    assert f'name="csrf_token" value="{token}"' in r.text  # the form again, still postable
    r = client.post(url, data={"csrf_token": token, "username": "nina", "password": "short"})
    assert r.status_code == 422 and "at least 8" in r.text
    assert len(invites.list_invites(ctx.db, pid)) == 1
    client.cookies.set(COOKIE, "planted")
    form = {"csrf_token": token, "username": "nina", "password": "nina-password"}
    r = client.post(url, data=form, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/projects/{pid}"
    assert r.cookies[COOKIE] != "planted"
    assert client.get(f"/projects/{pid}").status_code == 200
    assert {m.username: m.role for m in members.list_members(ctx.db, pid)}["nina"] is Role.ANNOTATOR
    client.cookies.clear()
    again = client.get(url)
    assert again.status_code == 409 and "already used" in again.text


def test_a_logged_in_user_joins_with_their_account(client: Any, ctx: Any) -> None:
    pid = _setup(ctx)
    auth.create_user(ctx.db, "ann", "ann-password")
    url = invites.create_invite(ctx.db, None, pid, Role.REVIEWER).url
    assert url is not None
    csrf = _session(client, "ann")
    assert "Join as ann" in client.get(url).text
    assert client.post(url, data={"csrf_token": "wrong"}).status_code == 403
    r = client.post(url, data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/projects/{pid}"
    assert {m.username: m.role for m in members.list_members(ctx.db, pid)}["ann"] is Role.REVIEWER


def test_unknown_and_expired_links_are_clear_4xx_pages(client: Any, ctx: Any) -> None:
    pid = _setup(ctx)
    r = client.get("/invite/hli_made-up")
    assert r.status_code == 404 and "not valid" in r.text
    url = invites.create_invite(ctx.db, None, pid, Role.ANNOTATOR, days=1, now=0.0).url
    assert url is not None
    r = client.get(url)
    assert r.status_code == 409 and "expired" in r.text
    form = {"csrf_token": form_token(client), "username": "late", "password": "late-password"}
    r = client.post(url, data=form)
    assert r.status_code == 409 and "expired" in r.text
    assert [m.username for m in members.list_members(ctx.db, pid)] == ["olive", "vera"]
