"""The label distribution and the answer and skip counts show answers: an annotator sees
only their own unless the project allows all.

Two annotators answer differently (and one skips); over HTTP (``GET /api/projects`` and
``GET /api/projects/{id}``) and on the pages (projects, project, label) each
sees the counts of their own answers, while owners, managers, reviewers,
viewers and administrators see everyone's. With ``annotator_visibility``
``all`` the annotators see everyone's too. Item progress (total, labeled) is the
project's for everyone: it shows work done, not anyone's answers.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hitloop.schemas import AnnotationIn, ItemIn, ProjectCreate, TeamSettingsUpdate
from hitloop.services import annotations, auth, items, members, policy, projects, team
from hitloop.services.items import ItemLimits
from hitloop.types import Role
from tests.web.conftest import log_in

EVERYONE = {"a": 1, "b": 2}
OWN = {"ann": {"a": 1, "b": 0}, "bob": {"a": 0, "b": 2}}
READERS = ("owner", "manager", "reviewer", "viewer", "root")
# (answers, skips) as each sees them in the project.
COUNTS_EVERYONE = (3, 1)
COUNTS_OWN = {"ann": (1, 0), "bob": (2, 1)}


@dataclass
class Team:
    project: int
    other: int  # a project where ann is a reviewer: everyone's answers there
    ids: dict[str, int]  # username -> user id
    app: Any

    def client(self, name: str) -> TestClient:
        c = TestClient(self.app)
        log_in(c, name, f"{name}-password")
        return c


@pytest.fixture
def world(app: Any, ctx: Any) -> Team:
    db = ctx.db
    names = ("owner", "manager", "reviewer", "viewer", "ann", "bob")
    users = {n: auth.create_user(db, n, f"{n}-password") for n in names}
    users["root"] = auth.create_user(db, "root", "root-password", is_admin=True)
    pid = projects.create_project(db, users["owner"].id, ProjectCreate(name="p", labels=["a", "b"])).id
    for name, role in [("manager", Role.MANAGER), ("reviewer", Role.REVIEWER), ("viewer", Role.VIEWER)]:
        members.add_member(db, None, pid, name, role)
    for name in ("ann", "bob"):
        members.add_member(db, None, pid, name, Role.ANNOTATOR)
    ids = items.add_items(db, pid, None, [ItemIn(text=f"t{i}") for i in range(4)], ItemLimits())
    for who, item, label in [("ann", ids[0], "a"), ("bob", ids[1], "b"), ("bob", ids[2], "b")]:
        body = AnnotationIn(value={"label": label}, client_key=uuid.uuid4().hex)
        annotations.submit(db, users[who].id, item, body)
    annotations.submit(db, users["bob"].id, ids[3], AnnotationIn(skip=True, client_key=uuid.uuid4().hex))
    other = projects.create_project(db, users["owner"].id, ProjectCreate(name="q", labels=["a", "b"])).id
    members.add_member(db, None, other, "ann", Role.REVIEWER)
    [x] = items.add_items(db, other, None, [ItemIn(text="x")], ItemLimits())
    annotations.submit(
        db, users["bob"].id, x, AnnotationIn(value={"label": "b"}, client_key=uuid.uuid4().hex)
    )
    return Team(pid, other, {n: u.id for n, u in users.items()}, app)


def _api(w: Team, name: str) -> dict[int, dict[str, int]]:
    """name -> (project id -> distribution), from GET /api/projects and GET /api/projects/{id}."""
    c = w.client(name)
    listed = {p["id"]: p["stats"]["distribution"] for p in c.get("/api/projects").json()}
    for pid in listed:
        one = c.get(f"/api/projects/{pid}")
        assert one.status_code == 200, one.text
        assert one.json()["stats"]["distribution"] == listed[pid], (name, pid)
    return listed


def _bars(html: str) -> dict[str, int]:
    return {m[1]: int(m[2]) for m in re.finditer(r'aria-label="(a|b): (\d+)"', html)}


def test_annotators_see_the_counts_of_their_own_answers_over_http(world: Team) -> None:
    for name in ("ann", "bob"):
        assert _api(world, name)[world.project] == OWN[name], name
    assert _api(world, "ann")[world.other] == {"a": 0, "b": 1}  # a reviewer there: everyone's
    for name in READERS:
        assert _api(world, name)[world.project] == EVERYONE, name


def test_with_visibility_all_annotators_see_everyones_counts(ctx: Any, world: Team) -> None:
    team.update_team_settings(ctx.db, None, world.project, TeamSettingsUpdate(annotator_visibility="all"))
    for name in ("ann", "bob", *READERS):
        assert _api(world, name)[world.project] == EVERYONE, name
    team.update_team_settings(ctx.db, None, world.project, TeamSettingsUpdate(annotator_visibility="own"))
    assert _api(world, "bob")[world.project] == OWN["bob"]


def test_the_pages_show_an_annotator_their_own_labels(world: Team) -> None:
    ann = world.client("ann")
    project_page = ann.get(f"/projects/{world.project}")
    assert project_page.status_code == 200
    assert "Your labels" in project_page.text and "Label distribution" not in project_page.text
    assert _bars(project_page.text) == OWN["ann"]
    cards = ann.get("/").text.split('<li class="card project-card">')[1:]
    [mine] = [c for c in cards if f'href="/projects/{world.project}"' in c]
    [other] = [c for c in cards if f'href="/projects/{world.other}"' in c]
    assert "Your labels" in mine and _bars(mine) == OWN["ann"]
    assert "Your labels" not in other and _bars(other) == {"a": 0, "b": 1}
    label_page = ann.get(f"/projects/{world.project}/label")
    assert label_page.status_code == 200
    config = label_page.text.split('<script type="application/json" id="hl-config">', 1)[1]
    assert json.loads(config.split("</script>", 1)[0])["stats"]["distribution"] == OWN["ann"]


def test_the_pages_show_readers_everyones_labels(ctx: Any, world: Team) -> None:
    for name in ("reviewer", "owner"):
        html = world.client(name).get(f"/projects/{world.project}").text
        assert "Label distribution" in html and "Your labels" not in html
        assert _bars(html) == EVERYONE, name
    team.update_team_settings(ctx.db, None, world.project, TeamSettingsUpdate(annotator_visibility="all"))
    html = world.client("ann").get(f"/projects/{world.project}").text
    assert "Label distribution" in html and _bars(html) == EVERYONE


def test_projects_allowing_follows_each_projects_visibility(ctx: Any, world: Team) -> None:
    ann = auth.CurrentUser(id=world.ids["ann"], username="ann", is_admin=False)
    read = policy.Action.READ_ANNOTATIONS
    assert policy.projects_allowing(ctx.db, ann, read) == {world.other}
    access = policy.project_access(ctx.db, ann, world.project)
    assert policy.answers_of(access) == world.ids["ann"]
    team.update_team_settings(ctx.db, None, world.project, TeamSettingsUpdate(annotator_visibility="all"))
    assert policy.projects_allowing(ctx.db, ann, read) == {world.project, world.other}
    assert policy.answers_of(policy.project_access(ctx.db, ann, world.project)) is None


def _counts(w: Team, name: str) -> dict[int, tuple[int, int, int, int]]:
    """name -> (project id -> (answers, skips, total, labeled)), the same from the list and each project."""
    c = w.client(name)

    def four(stats: dict[str, int]) -> tuple[int, int, int, int]:
        return stats["annotations"], stats["skipped"], stats["total"], stats["labeled"]

    listed = {p["id"]: four(p["stats"]) for p in c.get("/api/projects").json()}
    for pid in listed:
        assert four(c.get(f"/api/projects/{pid}").json()["stats"]) == listed[pid], (name, pid)
    return listed


def test_annotators_see_the_counts_of_their_own_answers_and_skips_over_http(ctx: Any, world: Team) -> None:
    # Item progress is the project's: 4 items, 3 answered (one each, overlap 1), 1 skipped.
    progress = (4, 3)
    for name in ("ann", "bob"):
        assert _counts(world, name)[world.project] == (*COUNTS_OWN[name], *progress), name
    assert _counts(world, "ann")[world.other][:2] == (1, 0)  # a reviewer there: everyone's
    for name in READERS:
        assert _counts(world, name)[world.project] == (*COUNTS_EVERYONE, *progress), name
    team.update_team_settings(ctx.db, None, world.project, TeamSettingsUpdate(annotator_visibility="all"))
    for name in ("ann", "bob"):
        assert _counts(world, name)[world.project] == (*COUNTS_EVERYONE, *progress), name


def _stat(html: str, key: str) -> int:
    [value] = re.findall(rf'<dd data-stat="{key}">(\d+)</dd>', html)
    return int(value)


def test_the_project_page_shows_an_annotator_their_own_answers_and_skips(ctx: Any, world: Team) -> None:
    for name in ("ann", "bob"):
        html = world.client(name).get(f"/projects/{world.project}").text
        assert (_stat(html, "annotations"), _stat(html, "skipped")) == COUNTS_OWN[name], name
        assert "Your answers" in html and "Your skips" in html
        assert (_stat(html, "total"), _stat(html, "labeled")) == (4, 3)
    html = world.client("owner").get(f"/projects/{world.project}").text
    assert (_stat(html, "annotations"), _stat(html, "skipped")) == COUNTS_EVERYONE
    assert "Your answers" not in html and "<dt>Answers</dt>" in html
    team.update_team_settings(ctx.db, None, world.project, TeamSettingsUpdate(annotator_visibility="all"))
    html = world.client("ann").get(f"/projects/{world.project}").text
    assert (_stat(html, "annotations"), _stat(html, "skipped")) == COUNTS_EVERYONE
    assert "Your answers" not in html and "<dt>Skipped</dt>" in html
