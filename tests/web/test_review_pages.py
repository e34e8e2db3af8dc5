"""The review and audit pages and the project page's agreement matrix, through the in-process client."""

from __future__ import annotations

import re
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update

from hitloop.db.tables import Annotation, Project
from hitloop.schemas import AnnotationIn, ItemIn, ProjectCreate
from hitloop.services import annotations, auth, items, members, projects
from hitloop.types import Role
from tests.web.conftest import WebSession, log_in


@pytest.fixture
def labeled(web: WebSession, ctx: Any) -> dict[str, Any]:
    """Two annotators answered the same three items (overlap 2), agreeing on two."""
    project = projects.create_project(ctx.db, web.user.id, ProjectCreate(name="Pets", labels=["cat", "dog"]))
    with ctx.db.write() as s:
        s.execute(update(Project).where(Project.id == project.id).values(overlap=2, overlap_max=2))
    ids = items.add_items(ctx.db, project.id, None, [ItemIn(text=f"t{i}") for i in range(3)], ctx.limits)
    people = {}
    for name, labels in (("ann", ["cat", "dog", "cat"]), ("bea", ["cat", "dog", "dog"])):
        user = auth.create_user(ctx.db, name, f"{name}-password")
        members.add_member(ctx.db, None, project.id, name, Role.ANNOTATOR)
        people[name] = user.id
        for item, label in zip(ids, labels, strict=True):
            body = AnnotationIn(value={"label": label}, client_key=uuid.uuid4().hex)
            annotations.submit(ctx.db, user.id, item, body)
    return {"pid": project.id, "items": ids, **people}


def _answer_ids(ctx: Any, project_id: int, user_id: int) -> list[int]:
    with ctx.db.read() as s:
        return list(
            s.scalars(
                select(Annotation.id)
                .where(Annotation.project_id == project_id, Annotation.user_id == user_id)
                .order_by(Annotation.id)
            )
        )


def test_project_page_shows_the_agreement_matrix(web: WebSession, labeled: dict[str, Any]) -> None:
    html = web.client.get(f"/projects/{labeled['pid']}").text
    assert 'aria-label="Cohen\'s kappa per pair of annotators"' in html
    # 2 of 3 agree: p_o = 2/3, p_e = 4/9 (ann: 2 cat 1 dog, bea: 1 cat 2 dog) -> kappa = 0.4
    assert re.search(r'<td class="k-low">0\.40</td>', html)
    assert '<dd data-stat="shared">3</dd>' in html
    assert (
        f'href="/projects/{labeled["pid"]}/review"' in html
        and f'href="/projects/{labeled["pid"]}/audit"' in html
    )


def test_project_page_shows_multilabel_and_rating_agreement(web: WebSession, ctx: Any) -> None:
    def answered(name: str, task: str, labels: list[str], given: dict[str, list[dict[str, Any]]]) -> str:
        project = projects.create_project(
            ctx.db, web.user.id, ProjectCreate(name=name, task=task, labels=labels)
        )
        with ctx.db.write() as s:
            s.execute(update(Project).where(Project.id == project.id).values(overlap=2, overlap_max=2))
        ids = items.add_items(ctx.db, project.id, None, [ItemIn(text=f"t{i}") for i in range(3)], ctx.limits)
        for person, values in given.items():
            uid = people[person]
            for item, value in zip(ids, values, strict=True):
                annotations.submit(ctx.db, uid, item, AnnotationIn(value=value, client_key=uuid.uuid4().hex))
        return web.client.get(f"/projects/{project.id}").text

    people = {n: auth.create_user(ctx.db, n, f"{n}-password").id for n in ("ann", "bea")}
    html = answered(
        "Tags",
        "multilabel",
        ["a", "b", "c"],
        {
            "ann": [{"labels": ["a"]}, {"labels": ["a", "b"]}, {"labels": ["b"]}],
            "bea": [{"labels": ["a"]}, {"labels": ["a"]}, {"labels": ["b"]}],
        },
    )
    # MASI alpha 9/14; label b: Fleiss' kappa 1/3, alpha 4/9; pooled pair kappa 10/13
    assert "Krippendorff's α (MASI)" in html and '<dd data-stat="alpha">0.64</dd>' in html
    assert '<tr data-label="b"><th scope="row">b</th><td>0.33</td><td>0.44</td></tr>' in html
    assert re.search(r'<td class="k-mid">0\.77</td>', html)
    html = answered(
        "Stars",
        "classify",
        ["1", "2", "3", "4", "5"],
        {
            "ann": [{"label": "1"}, {"label": "3"}, {"label": "5"}],
            "bea": [{"label": "2"}, {"label": "3"}, {"label": "4"}],
        },
    )
    assert '<dd data-stat="alpha-interval">0.83</dd>' in html and '<dd data-stat="alpha">0.29</dd>' in html


def test_annotators_see_no_agreement_panel(client: Any, ctx: Any, labeled: dict[str, Any]) -> None:
    log_in(client, "ann", "ann-password")
    html = client.get(f"/projects/{labeled['pid']}").text
    assert "Cohen" not in html and "/review" not in html
    assert client.get(f"/projects/{labeled['pid']}/review").status_code == 403
    assert client.get(f"/projects/{labeled['pid']}/audit").status_code == 403


def test_review_page_lists_queues_and_its_form_reviews(
    web: WebSession, ctx: Any, labeled: dict[str, Any]
) -> None:
    pid = labeled["pid"]
    pending = web.client.get(f"/projects/{pid}/review").text
    assert '<span class="muted" data-total>3</span>' in pending
    disagreement = web.client.get(f"/projects/{pid}/review?queue=disagreement").text
    assert '<span class="muted" data-total>1</span>' in disagreement
    assert f'data-item="{labeled["items"][2]}"' in disagreement
    errors = web.client.get(f"/projects/{pid}/review?queue=label-errors").text
    assert "data-note" in errors  # too few labelled items: says why

    first, second = _answer_ids(ctx, pid, labeled["ann"])[:2]
    url = f"/projects/{pid}/review/{first}"
    refused = web.client.post(url, data={"action": "accept"}, follow_redirects=False)
    assert refused.status_code == 403
    ok = web.client.post(
        url, data={"action": "accept", "csrf_token": web.csrf, "queue": "pending"}, follow_redirects=False
    )
    assert ok.status_code == 303 and ok.headers["location"] == f"/projects/{pid}/review?queue=pending"
    fixed = web.client.post(
        f"/projects/{pid}/review/{second}",
        data={
            "action": "fix",
            "label": "cat",
            "csrf_token": web.csrf,
            "queue": "disagreement",
            "offset": "0",
        },
        follow_redirects=False,
    )
    assert fixed.status_code == 303
    with ctx.db.read() as s:
        reviews = dict(
            s.execute(select(Annotation.id, Annotation.review).where(Annotation.id.in_([first, second])))
            .tuples()
            .all()
        )
    assert reviews == {first: "accepted", second: "fixed"}
    audit = web.client.get(f"/projects/{pid}/audit").text
    assert "annotation.fixed" in audit and "annotation.accepted" in audit


@pytest.mark.parametrize(
    ("data", "status", "text"),
    [
        ({"action": "approve"}, 422, "action must be accept, reject or fix"),
        ({"action": "fix", "label": "emu"}, 422, "emu"),
        ({"action": "accept", "queue": "mine"}, 422, "queue"),
    ],
    ids=["unknown-action", "unknown-label", "unknown-queue"],
)
def test_bad_review_forms_are_refused(
    web: WebSession, ctx: Any, labeled: dict[str, Any], data: dict[str, str], status: int, text: str
) -> None:
    pid = labeled["pid"]
    first = _answer_ids(ctx, pid, labeled["ann"])[0]
    r = web.client.post(f"/projects/{pid}/review/{first}", data={**data, "csrf_token": web.csrf})
    assert r.status_code == status and text in r.text
    with ctx.db.read() as s:
        assert s.scalar(select(Annotation.review).where(Annotation.id == first)) is None


def test_review_form_refuses_an_answer_of_another_project(
    web: WebSession, ctx: Any, labeled: dict[str, Any]
) -> None:
    other = projects.create_project(ctx.db, web.user.id, ProjectCreate(name="Other", labels=["x"]))
    first = _answer_ids(ctx, labeled["pid"], labeled["ann"])[0]
    r = web.client.post(
        f"/projects/{other.id}/review/{first}", data={"action": "accept", "csrf_token": web.csrf}
    )
    assert r.status_code == 422 and "is not in project" in r.text


def test_audit_page_pages_back(web: WebSession, ctx: Any, app: Any) -> None:
    project = projects.create_project(ctx.db, web.user.id, ProjectCreate(name="Log", labels=["a"]))
    for i in range(60):
        items.add_items(ctx.db, project.id, web.user.id, [ItemIn(text=f"x{i}")], ctx.limits)
    first = web.client.get(f"/projects/{project.id}/audit").text
    assert first.count("<tr data-event=") == 50
    older = re.search(r'href="(/projects/\d+/audit\?before=\d+)"', first)
    assert older
    rest = web.client.get(older.group(1)).text
    assert rest.count("<tr data-event=") == 11 and "project.create" in rest and "Older events" not in rest
    assert TestClient(app).get(f"/projects/{project.id}/audit", follow_redirects=False).status_code == 303
