"""The project page's agreement panel: one computation across many views, recomputed after an
answer; a sampled MASI α says so. Through the in-process client, on SQLite and PostgreSQL."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import update

from hitloop.db.tables import Project
from hitloop.schemas import AgreementOut, AnnotationIn, ItemIn, ProjectCreate
from hitloop.services import agreement, annotations, auth, items, projects
from tests.web.conftest import WebSession


@pytest.fixture
def computed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The project ids the real computation ran for (it still runs: this only counts)."""
    calls: list[int] = []
    real = agreement._compute

    def counting(db: Any, project_id: int, task: str | None) -> AgreementOut:
        calls.append(project_id)
        return real(db, project_id, task)

    monkeypatch.setattr(agreement, "_compute", counting)
    return calls


def _project(web: WebSession, ctx: Any, task: str, labels: list[str], n_items: int) -> tuple[int, list[int]]:
    project = projects.create_project(ctx.db, web.user.id, ProjectCreate(name="p", task=task, labels=labels))
    with ctx.db.write() as s:
        s.execute(update(Project).where(Project.id == project.id).values(overlap=2, overlap_max=2))
    texts = [ItemIn(text=f"t{i}") for i in range(n_items)]
    ids = items.add_items(ctx.db, project.id, None, texts, ctx.limits)
    return project.id, ids


def _submit(ctx: Any, user_id: int, item_id: int, value: dict[str, Any]) -> None:
    annotations.submit(ctx.db, user_id, item_id, AnnotationIn(value=value, client_key=uuid.uuid4().hex))


def test_page_views_and_api_calls_share_one_computation(
    web: WebSession, ctx: Any, computed: list[int]
) -> None:
    pid, ids = _project(web, ctx, "classify", ["cat", "dog"], 2)
    ann, bea = (auth.create_user(ctx.db, n, f"{n}-password").id for n in ("ann", "bea"))
    _submit(ctx, ann, ids[0], {"label": "cat"})
    _submit(ctx, bea, ids[0], {"label": "cat"})
    pages = [web.client.get(f"/projects/{pid}").text for _ in range(5)]
    api = [web.client.get(f"/api/projects/{pid}/agreement").json() for _ in range(5)]
    assert len(computed) == 1
    assert all('<dd data-stat="shared">1</dd>' in html for html in pages)
    assert {a["items"] for a in api} == {1} and 'data-stat="alpha-sample"' not in pages[0]
    _submit(ctx, ann, ids[1], {"label": "dog"})
    _submit(ctx, bea, ids[1], {"label": "cat"})
    html = web.client.get(f"/projects/{pid}").text
    assert '<dd data-stat="shared">2</dd>' in html
    assert web.client.get(f"/api/projects/{pid}/agreement").json()["items"] == 2
    assert len(computed) == 2


def test_a_sampled_masi_alpha_says_so_on_the_page(
    web: WebSession, ctx: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(agreement, "MASI_MAX_SETS", 3)
    pid, ids = _project(web, ctx, "multilabel", ["a", "b", "c"], 4)
    ann, bea = (auth.create_user(ctx.db, n, f"{n}-password").id for n in ("ann", "bea"))
    given = [(["a"], ["a", "b"]), (["b"], ["b", "c"]), (["c"], ["a", "c"]), (["a", "b", "c"], ["a"])]
    for item, (x, y) in zip(ids, given, strict=True):
        _submit(ctx, ann, item, {"labels": x})
        _submit(ctx, bea, item, {"labels": y})
    body = web.client.get(f"/api/projects/{pid}/agreement").json()
    n = body["krippendorff_alpha_items"]
    assert n is not None and 1 <= n < 4 and body["items"] == 4
    html = web.client.get(f"/projects/{pid}").text
    assert f'<small class="muted" data-stat="alpha-sample">on a sample of {n} items</small>' in html
