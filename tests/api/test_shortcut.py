"""The hot routes' shortcut (hitloop.api.shortcut) answers exactly as the router would."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute

from hitloop.api.context import AppContext
from hitloop.api.shortcut import Shortcut


def _shortcut(app: FastAPI) -> Shortcut:
    (middleware,) = [m for m in app.user_middleware if m.cls is Shortcut]
    return Shortcut(None, **middleware.kwargs)


def _api_routes(routes: list[Any]) -> Iterator[APIRoute]:
    for route in routes:
        if isinstance(route, APIRoute):
            yield route
        elif hasattr(route, "original_router"):  # FastAPI's wrapper of an included router
            yield from _api_routes(route.original_router.routes)


def _router_endpoint(app: FastAPI, method: str, path: str) -> object:
    (route,) = [r for r in _api_routes(app.router.routes) if method in r.methods and r.path_regex.match(path)]
    return route.endpoint


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/api/projects/7/next"), ("POST", "/api/items/7/annotations")]
)
def test_the_shortcut_calls_the_endpoint_the_router_would(app: FastAPI, method: str, path: str) -> None:
    shortcut = _shortcut(app)
    (endpoint,) = [e for m, pattern, e in shortcut.routes if m == method and pattern.fullmatch(path)]
    assert endpoint is _router_endpoint(app, method, path)


def test_other_methods_and_paths_are_not_taken(app: FastAPI) -> None:
    shortcut = _shortcut(app)
    for method, path in [
        ("GET", "/api/projects/7/next"),
        ("POST", "/api/projects/7/next/"),
        ("POST", "/api/projects/x/next"),
        ("POST", "/api/projects/7/release"),
        ("POST", "/api/items/7/annotations/1"),
    ]:
        assert not [p for m, p, _ in shortcut.routes if m == method and p.fullmatch(path)], (method, path)


def _project(api) -> int:  # type: ignore[no-untyped-def]
    r = api.post("/api/projects", json={"name": "p", "labels": ["pos", "neg"]})
    assert r.status_code == 201, r.text
    pid = int(r.json()["id"])
    assert api.post(f"/api/projects/{pid}/items", json={"items": [{"text": "a"}]}).status_code == 201
    return pid


@pytest.mark.parametrize("ident", ["0", "2147483648", "99999999999"])
def test_ids_out_of_range_get_the_routers_own_error(api, ident: str) -> None:  # type: ignore[no-untyped-def]
    for path in (f"/api/projects/{ident}/next", f"/api/items/{ident}/annotations"):
        r = api.post(path, json={"value": {"label": "pos"}})
        assert r.status_code == 422, (path, r.text)
        error = r.json()["error"]
        assert error["code"] == "invalid_input" and error["field"] in ("project_id", "item_id")


def test_errors_through_the_shortcut_have_the_one_error_shape(client, api) -> None:  # type: ignore[no-untyped-def]
    pid = _project(api)
    anonymous = client.post(f"/api/projects/{pid}/next", headers={"Authorization": ""})
    assert anonymous.status_code == 401 and anonymous.headers["www-authenticate"] == "Bearer"
    assert anonymous.json()["error"]["code"] == "unauthenticated"
    missing = api.post("/api/projects/999/next", json={})
    assert missing.status_code == 404 and missing.json()["error"]["field"] == "project_id"
    bad_body = api.post(f"/api/projects/{pid}/next", content=b"{not json")
    assert bad_body.status_code == 422 and bad_body.json()["error"]["code"] == "invalid_input"
    (item,) = api.post(f"/api/projects/{pid}/next", json={"count": 1}).json()["items"]
    unknown = api.post(
        f"/api/items/{item['id']}/annotations", json={"value": {"label": "maybe"}, "client_key": "key-0001"}
    )
    assert unknown.status_code == 422 and unknown.json()["error"]["field"] == "value.label"
    key = uuid.uuid4().hex
    first = api.post(
        f"/api/items/{item['id']}/annotations", json={"value": {"label": "pos"}, "client_key": key}
    )
    again = api.post(
        f"/api/items/{item['id']}/annotations", json={"value": {"label": "pos"}, "client_key": key}
    )
    assert (first.status_code, again.status_code) == (201, 200) and again.json()["replayed"] is True


def test_the_body_limit_still_applies_to_the_hot_routes(api, ctx: AppContext) -> None:  # type: ignore[no-untyped-def]
    pid = _project(api)
    big = b'{"count": 1, "have": [' + b"1," * ctx.settings.max_upload_bytes + b"1]}"
    r = api.post(f"/api/projects/{pid}/next", content=big, headers={"content-type": "application/json"})
    assert r.status_code == 413 and r.json()["error"]["code"] == "too_large"
    assert api.get(f"/api/projects/{pid}").json()["stats"]["labeled"] == 0
