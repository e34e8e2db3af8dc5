"""The team on the project page: who sees it, and the member and settings forms."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from hitloop.db.tables import Event
from hitloop.schemas import ProjectCreate
from hitloop.services import auth, members, projects
from hitloop.types import Role
from tests.web.conftest import log_in


def _session(client: Any, username: str) -> str:
    assert log_in(client, username, f"{username}-password").status_code == 303
    return str(client.get("/api/me").json()["csrf_token"])


def _setup(ctx: Any) -> int:
    owner = auth.create_user(ctx.db, "olive", "olive-password")
    for name in ("vera", "ann", "xavier"):
        auth.create_user(ctx.db, name, f"{name}-password")
    project = projects.create_project(ctx.db, owner.id, ProjectCreate(name="Team", labels=["a", "b"]))
    members.add_member(ctx.db, None, project.id, "vera", Role.VIEWER)
    projects.create_project(
        ctx.db, auth.login(ctx.db, "xavier", "xavier-password").id, ProjectCreate(name="X", labels=["x"])
    )
    return project.id


def test_owner_adds_changes_pauses_and_removes_members_through_the_page(client: Any, ctx: Any) -> None:
    pid = _setup(ctx)
    csrf = _session(client, "olive")
    html = client.get(f"/projects/{pid}").text
    assert 'data-member="olive"' in html and 'data-member="vera"' in html
    assert 'aria-label="Team settings"' in html

    r = client.post(
        f"/projects/{pid}/members",
        data={"csrf_token": csrf, "username": "ann", "role": "annotator"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    ann = next(m for m in members.list_members(ctx.db, pid) if m.username == "ann")
    assert ann.role is Role.ANNOTATOR

    form = {"csrf_token": csrf, "role": "reviewer"}
    assert (
        client.post(f"/projects/{pid}/members/{ann.user_id}", data=form, follow_redirects=False).status_code
        == 303
    )
    form = {"csrf_token": csrf, "paused": "yes"}
    assert (
        client.post(f"/projects/{pid}/members/{ann.user_id}", data=form, follow_redirects=False).status_code
        == 303
    )
    [ann] = [m for m in members.list_members(ctx.db, pid) if m.username == "ann"]
    assert ann.role is Role.REVIEWER and ann.paused
    assert "Unpause" in client.get(f"/projects/{pid}").text

    form = {"csrf_token": csrf, "remove": "yes"}
    assert (
        client.post(f"/projects/{pid}/members/{ann.user_id}", data=form, follow_redirects=False).status_code
        == 303
    )
    assert "ann" not in {m.username for m in members.list_members(ctx.db, pid)}
    with ctx.db.read() as s:
        actions = list(s.scalars(select(Event.action).where(Event.project_id == pid).order_by(Event.id)))
    assert actions[-4:] == ["member.add", "member.role", "member.pause", "member.remove"]


def test_bad_member_forms_change_nothing(client: Any, ctx: Any) -> None:
    pid = _setup(ctx)
    csrf = _session(client, "olive")
    before = members.list_members(ctx.db, pid)
    r = client.post(
        f"/projects/{pid}/members", data={"csrf_token": csrf, "username": "nobody", "role": "annotator"}
    )
    assert r.status_code == 404 and "nobody" in r.text
    r = client.post(f"/projects/{pid}/members", data={"csrf_token": csrf, "username": "ann", "role": "boss"})
    assert r.status_code == 422 and "unknown role" in r.text
    r = client.post(f"/projects/{pid}/members", data={"csrf_token": "forged", "username": "ann"})
    assert r.status_code == 403
    r = client.post(f"/projects/{pid}/team", data={"csrf_token": csrf, "overlap": "0"})
    assert r.status_code == 422 and "overlap" in r.text
    r = client.post(f"/projects/{pid}/team", data={"csrf_token": csrf, "gold_rate": "lots"})
    assert r.status_code == 422 and "gold_rate" in r.text
    assert members.list_members(ctx.db, pid) == before


def test_a_viewer_sees_the_project_but_no_team_controls_nor_the_labeling_page(client: Any, ctx: Any) -> None:
    pid = _setup(ctx)
    csrf = _session(client, "vera")
    html = client.get(f"/projects/{pid}").text
    assert 'data-role="viewer"' in html
    assert "Add member" not in html and "Start labeling" not in html and "Import items" not in html
    assert client.get(f"/projects/{pid}/label").status_code == 403
    r = client.post(f"/projects/{pid}/members", data={"csrf_token": csrf, "username": "ann"})
    assert r.status_code == 403
    projects_html = client.get("/").text
    assert "Team" in projects_html and ">X<" not in projects_html


def test_an_annotator_is_offered_no_export_nor_retraining_they_would_be_refused(
    client: Any, ctx: Any
) -> None:
    pid = _setup(ctx)
    members.add_member(ctx.db, None, pid, "ann", Role.ANNOTATOR)
    _session(client, "ann")
    html = client.get(f"/projects/{pid}").text
    assert 'data-role="annotator"' in html and "Start labeling" in html
    assert "export?format=" not in html and "data-train" not in html
    # What the page leaves out is what the API refuses.
    assert client.get(f"/api/projects/{pid}/export?format=jsonl").status_code == 403
    assert (
        client.post(f"/api/projects/{pid}/train", headers={"X-CSRF-Token": _csrf(client)}).status_code == 403
    )
    # A project that shows annotators every answer lets them export it too.
    csrf = _session(client, "olive")
    r = client.post(
        f"/projects/{pid}/team",
        data={"csrf_token": csrf, "annotator_visibility": "all"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    _session(client, "ann")
    html = client.get(f"/projects/{pid}").text
    assert "export?format=jsonl" in html and "data-train" not in html
    assert client.get(f"/api/projects/{pid}/export?format=jsonl").status_code == 200


def test_the_owner_is_offered_export_and_retraining(client: Any, ctx: Any) -> None:
    pid = _setup(ctx)
    _session(client, "olive")
    html = client.get(f"/projects/{pid}").text
    assert "export?format=jsonl" in html and "data-train" in html


def _csrf(client: Any) -> str:
    return str(client.get("/api/me").json()["csrf_token"])


def test_another_projects_pages_are_not_found(client: Any, ctx: Any) -> None:
    pid = _setup(ctx)
    _session(client, "xavier")
    assert client.get(f"/projects/{pid}").status_code == 404
    assert client.get(f"/projects/{pid}/label").status_code == 404


def test_team_settings_form_changes_overlap(client: Any, ctx: Any) -> None:
    from hitloop.services import team

    pid = _setup(ctx)
    csrf = _session(client, "olive")
    form = {
        "csrf_token": csrf,
        "overlap": "3",
        "overlap_max": "5",
        "gold_rate": "0.1",
        "annotator_visibility": "all",
    }
    assert client.post(f"/projects/{pid}/team", data=form, follow_redirects=False).status_code == 303
    got = team.get_team_settings(ctx.db, pid)
    assert (got.overlap, got.overlap_max, got.gold_rate, got.annotator_visibility) == (3, 5, 0.1, "all")
