"""Cross-site request forgery and hostile text."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from markupsafe import escape

from hitloop.schemas import ItemIn, ProjectCreate
from hitloop.services import items, projects
from tests.web.conftest import WebSession

HOSTILE_NAME = '<script>alert("name")</script>'
HOSTILE_LABEL = '</script><img src=x onerror="window.__xss=1">'
HOSTILE_TEXT = '</script><script>window.__xss=2</script><img src=x onerror="window.__xss=3">'


# ---- CSRF ------------------------------------------------------------------


def test_api_refuses_cookie_post_without_csrf_header(web: WebSession, ctx: Any) -> None:
    body = {"name": "P", "labels": ["a"]}
    refused = web.client.post("/api/projects", json=body)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "forbidden"
    wrong = web.client.post("/api/projects", json=body, headers={"X-CSRF-Token": "guess"})
    assert wrong.status_code == 403
    assert projects.list_projects(ctx.db) == []
    allowed = web.client.post("/api/projects", json=body, headers={"X-CSRF-Token": web.csrf})
    assert allowed.status_code == 201


@pytest.mark.parametrize("token", [None, "", "forged-token"], ids=["missing", "empty", "wrong"])
def test_new_project_form_refuses_a_post_without_the_token(
    web: WebSession, ctx: Any, token: str | None
) -> None:
    form = {"name": "Sneaky", "task": "classify", "modality": "text", "labels": "a\nb"}
    if token is not None:
        form["csrf_token"] = token
    response = web.client.post("/projects/new", data=form, follow_redirects=False)
    assert response.status_code == 403
    assert response.headers["content-type"].startswith("text/html")
    assert projects.list_projects(ctx.db) == []


@pytest.mark.parametrize("token", [None, "forged-token"], ids=["missing", "wrong"])
def test_logout_refuses_a_post_without_the_token(web: WebSession, token: str | None) -> None:
    data = {} if token is None else {"csrf_token": token}
    response = web.client.post("/logout", data=data, follow_redirects=False)
    assert response.status_code == 403
    assert web.client.get("/api/me").status_code == 200  # still logged in


def test_forms_redirect_to_login_without_a_session(client: Any) -> None:
    response = client.post("/projects/new", data={"name": "x", "labels": "a"}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")


# ---- escaping --------------------------------------------------------------


@pytest.fixture
def hostile(web: WebSession, ctx: Any) -> Any:
    spec = ProjectCreate(name=HOSTILE_NAME, labels=[HOSTILE_LABEL, "ok"], instructions=HOSTILE_TEXT)
    project = projects.create_project(ctx.db, web.user.id, spec)
    items.add_items(ctx.db, project.id, web.user.id, [ItemIn(text=HOSTILE_TEXT)], ctx.limits)
    return project


@pytest.mark.parametrize("page", ["/", "/projects/{id}", "/projects/{id}/label"])
def test_hostile_names_and_labels_render_escaped(web: WebSession, hostile: Any, page: str) -> None:
    html = web.client.get(page.format(id=hostile.id)).text
    for raw in (HOSTILE_NAME, HOSTILE_LABEL, "<img src=x", "<script>alert", "<script>window"):
        assert raw not in html
    assert str(escape(HOSTILE_NAME)) in html
    assert str(escape(HOSTILE_LABEL)) in html
    # Only the page's own script elements: static modules and, on the labeling page, the JSON block.
    tags = re.findall(r"<script\b[^>]*>", html)
    own = re.compile(r'<script type="module" src="/static/[\w.-]+\.js\?v=\w+">')
    config = '<script type="application/json" id="hl-config">'
    assert [t for t in tags if not own.fullmatch(t) and t != config] == []
    assert tags.count(config) == (1 if page.endswith("/label") else 0)
    assert len(tags) > 1 or page == "/"


def test_label_page_json_block_cannot_be_closed_by_data(web: WebSession, hostile: Any) -> None:
    html = web.client.get(f"/projects/{hostile.id}/label").text
    start = html.index('<script type="application/json" id="hl-config">') + len(
        '<script type="application/json" id="hl-config">'
    )
    block = html[start : html.index("</script>", start)]
    config = json.loads(block)
    assert config["project"]["labels"] == [HOSTILE_LABEL, "ok"]
    assert config["project"]["name"] == HOSTILE_NAME
    assert config["project"]["instructions"] == HOSTILE_TEXT
    assert "<" not in block and ">" not in block
