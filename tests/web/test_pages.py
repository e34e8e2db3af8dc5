"""The server-rendered pages, through the in-process client."""

from __future__ import annotations

import json
import re
from http.cookies import SimpleCookie
from typing import Any

import pytest

from hitloop.schemas import ItemIn, ProjectCreate
from hitloop.services import items, projects
from hitloop.services.auth import CurrentUser
from tests.web.conftest import ADMIN_PASSWORD, WebSession, log_in


def _cookie_attributes(response: Any) -> dict[str, str | bool]:
    jar: SimpleCookie = SimpleCookie()
    jar.load(response.headers["set-cookie"])
    morsel = jar["hitloop_session"]
    return {key: morsel[key] for key in ("path", "httponly", "samesite", "max-age", "secure")}


def _config(html: str) -> dict[str, Any]:
    match = re.search(r'<script type="application/json" id="hl-config">(.*?)</script>', html, re.S)
    assert match, "the labeling page carries its data in a JSON block"
    config: dict[str, Any] = json.loads(match.group(1))
    return config


def _project(ctx: Any, user: CurrentUser, **spec: Any) -> Any:
    body = {"name": "Reviews", "labels": ["pos", "neg"], **spec}
    return projects.create_project(ctx.db, user.id, ProjectCreate(**body))


# ---- logging in and out ----------------------------------------------------


def test_login_form_renders(client: Any) -> None:
    response = client.get("/login")
    assert response.status_code == 200
    assert '<form method="post" action="/login"' in response.text
    assert 'name="password" type="password"' in response.text


def test_login_sets_the_same_cookie_as_the_api_and_redirects(client: Any, admin: CurrentUser) -> None:
    response = log_in(client, "admin", ADMIN_PASSWORD)
    assert response.status_code == 303
    assert response.headers["location"] == "/"
    page_cookie = _cookie_attributes(response)
    assert page_cookie["httponly"] is True
    assert str(page_cookie["samesite"]).lower() == "lax"
    api_login = client.post("/api/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert page_cookie == _cookie_attributes(api_login)
    assert client.get("/", follow_redirects=False).status_code == 200


def test_wrong_password_rerenders_the_form_with_401(client: Any, admin: CurrentUser) -> None:
    response = log_in(client, "admin", "not-the-password")
    assert response.status_code == 401
    assert "wrong username or password" in response.text
    assert 'value="admin"' in response.text
    assert "set-cookie" not in response.headers


@pytest.mark.parametrize(
    ("next_url", "location"),
    [
        ("/projects/1/label", "/projects/1/label"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("", "/"),
    ],
    ids=["local", "scheme-relative", "absolute", "backslash", "empty"],
)
def test_login_redirects_only_to_local_paths(
    client: Any, admin: CurrentUser, next_url: str, location: str
) -> None:
    response = log_in(client, "admin", ADMIN_PASSWORD, next_url)
    assert response.headers["location"] == location


@pytest.mark.parametrize(
    ("path", "location"),
    [
        ("/", "/login"),
        ("/projects/new", "/login?next=/projects/new"),
        ("/projects/1", "/login?next=/projects/1"),
        ("/projects/1/label", "/login?next=/projects/1/label"),
    ],
    ids=["projects", "new", "project", "label"],
)
def test_pages_redirect_to_login_when_logged_out(client: Any, path: str, location: str) -> None:
    response = client.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == location


def test_login_page_sends_a_logged_in_user_on(web: WebSession) -> None:
    response = web.client.get("/login?next=/projects/new", follow_redirects=False)
    assert response.headers["location"] == "/projects/new"


def test_logout_ends_the_session(web: WebSession) -> None:
    response = web.client.post("/logout", data={"csrf_token": web.csrf}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert web.client.get("/", follow_redirects=False).status_code == 303
    assert web.client.get("/api/me").status_code == 401


# ---- projects --------------------------------------------------------------


def test_projects_page_lists_progress_and_distribution(web: WebSession, ctx: Any) -> None:
    project = _project(ctx, web.user, name="Sentiment", labels=["pos", "neg", "mixed"])
    items.add_items(ctx.db, project.id, web.user.id, [ItemIn(text=f"t{i}") for i in range(4)], ctx.limits)
    item_id = web.client.post(f"/api/projects/{project.id}/next", json={}, headers={"X-CSRF-Token": web.csrf})
    first = item_id.json()["items"][0]["id"]
    answer = {"value": {"label": "neg"}, "client_key": "k-0000001"}
    saved = web.client.post(
        f"/api/items/{first}/annotations", json=answer, headers={"X-CSRF-Token": web.csrf}
    )
    assert saved.status_code == 201
    html = web.client.get("/").text
    assert f'href="/projects/{project.id}"' in html
    assert f'href="/projects/{project.id}/label"' in html
    assert "Sentiment" in html
    assert '<progress max="4" value="1"' in html
    assert 'aria-label="neg: 1"' in html
    assert 'href="/projects/new"' in html
    assert '<link rel="alternate" type="application/json" href="/api/projects">' in html


def test_projects_page_json_twin_has_the_same_data(web: WebSession, ctx: Any) -> None:
    project = _project(ctx, web.user)
    listed = web.client.get("/api/projects").json()
    assert [p["id"] for p in listed] == [project.id]
    assert listed[0]["stats"]["total"] == 0


def test_new_project_form_renders_with_csrf(web: WebSession) -> None:
    html = web.client.get("/projects/new").text
    assert f'name="csrf_token" value="{web.csrf}"' in html


@pytest.mark.parametrize(
    ("typed", "labels"),
    [
        ("pos\nneg\nneutral", ["pos", "neg", "neutral"]),
        ("pos, neg ,neutral,", ["pos", "neg", "neutral"]),
        ("yes, really\nno\n\n", ["yes, really", "no"]),
        ("  cat \r\n dog ", ["cat", "dog"]),
    ],
    ids=["lines", "commas", "lines-keep-commas", "crlf"],
)
def test_create_project_through_the_form(web: WebSession, ctx: Any, typed: str, labels: list[str]) -> None:
    form = {
        "csrf_token": web.csrf,
        "name": "Animals",
        "task": "multilabel",
        "modality": "image",
        "labels": typed,
        "instructions": "Pick all that apply.",
    }
    response = web.client.post("/projects/new", data=form, follow_redirects=False)
    assert response.status_code == 303, response.text
    project_id = int(response.headers["location"].rsplit("/", 1)[1])
    created = projects.get_project(ctx.db, project_id)
    assert created.labels == labels
    assert (created.task.value, created.modality.value) == ("multilabel", "image")
    assert created.instructions == "Pick all that apply."


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"labels": ""}, "labels: the label set must be a non-empty list of names"),
        ({"labels": " \n , \n"}, "labels: the label set must be a non-empty list of names"),
        ({"labels": "cat\ndog\ncat"}, "labels[2]: label &#39;cat&#39; appears twice"),
        ({"name": "   "}, "name: a project needs a name"),
        ({"task": "spans"}, "task: choose one of classify, multilabel"),
        ({"modality": "video"}, "modality: choose one of text, image"),
        ({"name": "x" * 201}, "name: String should have at most 200 characters"),
    ],
    ids=[
        "empty-labels",
        "blank-labels",
        "duplicate-label",
        "no-name",
        "bad-task",
        "bad-modality",
        "long-name",
    ],
)
def test_invalid_project_form_rerenders_with_the_error(
    web: WebSession, ctx: Any, changes: dict[str, str], message: str
) -> None:
    form = {"csrf_token": web.csrf, "name": "Animals", "task": "classify", "modality": "text"}
    form |= {"labels": "cat\ndog", "instructions": "Be kind <b>now</b>", **changes}
    response = web.client.post("/projects/new", data=form, follow_redirects=False)
    assert response.status_code == 422
    assert message in response.text
    # What was typed comes back, escaped.
    assert "Be kind &lt;b&gt;now&lt;/b&gt;</textarea>" in response.text
    assert projects.list_projects(ctx.db) == []


def test_project_page_shows_stats_exports_and_import_form(web: WebSession, ctx: Any) -> None:
    project = _project(ctx, web.user, instructions="Read carefully.")
    items.add_items(ctx.db, project.id, web.user.id, [ItemIn(text="a"), ItemIn(text="b")], ctx.limits)
    html = web.client.get(f"/projects/{project.id}").text
    assert '<dd data-stat="total">2</dd>' in html
    assert f'href="/projects/{project.id}/label"' in html
    for fmt in ("jsonl", "csv", "parquet"):
        assert f'href="/api/projects/{project.id}/export?format={fmt}"' in html
    assert f'data-url="/api/projects/{project.id}/import"' in html
    assert "/images" not in html
    assert f'<link rel="alternate" type="application/json" href="/api/projects/{project.id}">' in html
    assert "Read carefully." in html


def test_image_project_page_has_an_upload_form(web: WebSession, ctx: Any) -> None:
    project = _project(ctx, web.user, modality="image")
    html = web.client.get(f"/projects/{project.id}").text
    assert f'data-url="/api/projects/{project.id}/images"' in html
    assert 'accept="image/*" multiple' in html


def test_label_page_carries_csrf_and_config(web: WebSession, ctx: Any) -> None:
    project = _project(ctx, web.user, labels=[f"l{i}" for i in range(12)], task="multilabel")
    html = web.client.get(f"/projects/{project.id}/label").text
    assert f'<meta name="csrf-token" content="{web.csrf}">' in html
    config = _config(html)
    assert config["project"] == {
        "id": project.id,
        "name": "Reviews",
        "task": "multilabel",
        "modality": "text",
        "labels": [f"l{i}" for i in range(12)],
        "instructions": "",
    }
    assert config["stats"]["total"] == 0
    # Keys 1-9 then 0 for the tenth label; the 11th and 12th are mouse-only.
    keys = re.findall(
        r'class="label-btn" data-index="\d+" aria-pressed="false">\s*(?:<kbd>(\d)</kbd>)?', html
    )
    assert keys == ["1", "2", "3", "4", "5", "6", "7", "8", "9", "0", "", ""]
    assert re.search(r'<script type="module" src="/static/label.js\?v=[0-9a-f]{12}">', html)


@pytest.mark.parametrize("path", ["/projects/999", "/projects/999/label", "/projects/abc"])
def test_unknown_project_is_an_html_404(web: WebSession, path: str) -> None:
    response = web.client.get(path)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "Not found" in response.text


def test_pages_carry_security_headers(web: WebSession) -> None:
    response = web.client.get("/")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "<script>" not in response.text  # no inline script anywhere


# ---- static files ----------------------------------------------------------


def test_versioned_static_files_are_immutable(client: Any) -> None:
    html = client.get("/login").text
    url = re.search(r'href="(/static/style\.css\?v=[0-9a-f]+)"', html)
    assert url
    fresh = client.get(url.group(1))
    assert fresh.status_code == 200
    assert fresh.headers["cache-control"] == "public, max-age=31536000, immutable"
    # An ES module's relative import has no version: it must be revalidated.
    plain = client.get("/static/api.js")
    assert plain.headers["cache-control"] == "no-cache"
    assert "javascript" in plain.headers["content-type"]
    again = client.get("/static/api.js", headers={"if-none-match": plain.headers["etag"]})
    assert again.status_code == 304
    stale = client.get("/static/style.css?v=000000000000")
    assert stale.headers["cache-control"] == "no-cache"
