"""The project page's agreement panel: one computation across many views, recomputed after an
answer; a sampled MASI α says so. Through the in-process client, on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from hitloop.services import agreement, auth
from tests.agreement_setup import count_computations, shared_project, submit
from tests.web.conftest import WebSession


@pytest.fixture
def computed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    return count_computations(monkeypatch)


def test_page_views_and_api_calls_share_one_computation(
    web: WebSession, ctx: Any, computed: list[int]
) -> None:
    pid, ids = shared_project(ctx, ["cat", "dog"], 2, task="classify", owner=web.user.id)
    ann, bea = (auth.create_user(ctx.db, n, f"{n}-password").id for n in ("ann", "bea"))
    submit(ctx, ann, ids[0], {"label": "cat"})
    submit(ctx, bea, ids[0], {"label": "cat"})
    pages = [web.client.get(f"/projects/{pid}").text for _ in range(5)]
    api = [web.client.get(f"/api/projects/{pid}/agreement").json() for _ in range(5)]
    assert len(computed) == 1
    assert all('<dd data-stat="shared">1</dd>' in html for html in pages)
    assert {a["items"] for a in api} == {1} and 'data-stat="alpha-sample"' not in pages[0]
    submit(ctx, ann, ids[1], {"label": "dog"})
    submit(ctx, bea, ids[1], {"label": "cat"})
    html = web.client.get(f"/projects/{pid}").text
    assert '<dd data-stat="shared">2</dd>' in html
    assert web.client.get(f"/api/projects/{pid}/agreement").json()["items"] == 2
    assert len(computed) == 2


def test_a_sampled_masi_alpha_says_so_on_the_page(
    web: WebSession, ctx: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(agreement, "MASI_MAX_SETS", 3)
    pid, ids = shared_project(ctx, ["a", "b", "c"], 4, task="multilabel", owner=web.user.id)
    ann, bea = (auth.create_user(ctx.db, n, f"{n}-password").id for n in ("ann", "bea"))
    given = [(["a"], ["a", "b"]), (["b"], ["b", "c"]), (["c"], ["a", "c"]), (["a", "b", "c"], ["a"])]
    for item, (x, y) in zip(ids, given, strict=True):
        submit(ctx, ann, item, {"labels": x})
        submit(ctx, bea, item, {"labels": y})
    body = web.client.get(f"/api/projects/{pid}/agreement").json()
    n = body["krippendorff_alpha_items"]
    assert n is not None and 1 <= n < 4 and body["items"] == 4
    html = web.client.get(f"/projects/{pid}").text
    assert f'<small class="muted" data-stat="alpha-sample">on a sample of {n} items</small>' in html
