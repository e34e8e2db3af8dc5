"""The JSON API: authentication, the one error shape, the labeling round trip."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from hitloop.api.context import AppContext


def _project(api, **extra) -> dict:  # type: ignore[no-untyped-def]
    body = {"name": "p", "labels": ["pos", "neg"], **extra}
    r = api.post("/api/projects", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def _png(size: tuple[int, int] = (8, 8)) -> bytes:
    buf = io.BytesIO()
    Image.new("L", size, 128).save(buf, "PNG")
    return buf.getvalue()


def test_every_route_but_health_and_login_needs_a_user(app, client) -> None:  # type: ignore[no-untyped-def]
    # Accepting an invite: the invite's secret stands in for a login (tests/api/test_invites_api.py).
    open_routes = {"/api/health", "/api/login", "/api/invites/accept"}
    checked = 0
    for path, operations in app.openapi()["paths"].items():
        if path in open_routes:
            continue
        for method in operations:
            url = path.replace("{project_id}", "1").replace("{item_id}", "1").replace("{token_id}", "1")
            r = client.request(method.upper(), url)
            assert r.status_code == 401, (method, path, r.status_code)
            assert r.json()["error"]["code"] == "unauthenticated"
            checked += 1
    assert checked >= 15


def test_bad_token_is_refused(client) -> None:  # type: ignore[no-untyped-def]
    r = client.get("/api/projects", headers={"Authorization": "Bearer hl_nope"})
    assert r.status_code == 401
    assert r.json() == {
        "error": {
            "code": "unauthenticated",
            "message": "invalid or revoked API token",
            "file": None,
            "line": None,
            "field": None,
        }
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "labels": []}, "labels"),
        ({"name": "x", "labels": ["a", "a"]}, "labels[1]"),
        ({"name": "x", "labels": ["a"], "task": "dance"}, "task"),
        ({"name": "x"}, "labels"),
        ({"name": "", "labels": ["a"]}, "name"),
    ],
    ids=["empty-labels", "duplicate-label", "unknown-task", "missing-labels", "empty-name"],
)
def test_project_validation_errors_name_the_field(api, body: dict, field: str) -> None:  # type: ignore[no-untyped-def]
    r = api.post("/api/projects", json=body)
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_input"
    assert r.json()["error"]["field"] == field
    assert api.get("/api/projects").json() == []


@pytest.mark.parametrize(
    ("content", "content_type", "message"),
    [
        (
            b'{"name": "x", "labels": ["a"]}',
            "application/x-www-form-urlencoded",
            "the request body must be JSON, sent with Content-Type: application/json"
            " (got application/x-www-form-urlencoded)",
        ),
        (b"[1]", "application/json", "the request body must be a JSON object"),
        (
            b'{"name":',
            "application/json",
            "the request body is not valid JSON at character 8: Expecting value",
        ),
        (
            b"",
            "application/json",
            "the request body is missing: send a JSON object (Content-Type: application/json)",
        ),
    ],
    ids=["form-content-type", "json-array", "broken-json", "no-body"],
)
def test_a_body_that_is_not_a_json_object_says_how_to_send_one(  # type: ignore[no-untyped-def]
    api, content: bytes, content_type: str, message: str
) -> None:
    # What `curl -d '{...}'` without a Content-Type header, and other slips, get back.
    r = api.post("/api/projects", content=content, headers={"Content-Type": content_type})
    assert r.status_code == 422
    assert r.json()["error"] == {
        "code": "invalid_input",
        "message": message,
        "file": None,
        "line": None,
        "field": None,
    }
    assert api.get("/api/projects").json() == []


def test_unknown_ids_are_404_with_the_error_shape(api) -> None:  # type: ignore[no-untyped-def]
    for method, url in [
        ("GET", "/api/projects/99"),
        ("POST", "/api/projects/99/next"),
        ("GET", "/api/items/99"),
        ("GET", "/api/projects/99/export"),
        ("GET", "/api/nowhere"),
    ]:
        r = api.request(method, url)
        assert r.status_code == 404, url
        assert set(r.json()["error"]) == {"code", "message", "file", "line", "field"}


def test_labeling_round_trip(api) -> None:  # type: ignore[no-untyped-def]
    p = _project(api)
    r = api.post(f"/api/projects/{p['id']}/items", json={"items": [{"text": f"t{i}"} for i in range(4)]})
    assert r.status_code == 201 and r.json()["created"] == 4
    got = api.post(f"/api/projects/{p['id']}/next", json={"count": 2}).json()["items"]
    assert [i["text"] for i in got] == ["t0", "t1"]
    body = {"value": {"label": "pos"}, "client_key": "round-trip-1", "seconds": 1.5}
    first = api.post(f"/api/items/{got[0]['id']}/annotations", json=body)
    assert first.status_code == 201
    replay = api.post(f"/api/items/{got[0]['id']}/annotations", json=body)
    assert replay.status_code == 200 and replay.json()["id"] == first.json()["id"]
    assert replay.json()["replayed"] is True
    fix = api.post(
        f"/api/items/{got[0]['id']}/annotations",
        json={"value": {"label": "neg"}, "client_key": "round-trip-2"},
    )
    assert fix.status_code == 201
    stats = api.get(f"/api/projects/{p['id']}").json()["stats"]
    assert stats == {
        "total": 4,
        "labeled": 1,
        "skipped": 0,
        "annotations": 1,
        "distribution": {"pos": 0, "neg": 1},
        "as_of": None,
    }
    history = api.get(f"/api/projects/{p['id']}/history").json()
    assert [(h["item"]["text"], h["annotation"]["value"]) for h in history] == [("t0", {"label": "neg"})]
    export = api.get(f"/api/projects/{p['id']}/export?format=jsonl")
    assert export.status_code == 200 and export.text.count("\n") == 1 and '"neg"' in export.text


def test_unknown_label_is_422_and_changes_nothing(api) -> None:  # type: ignore[no-untyped-def]
    p = _project(api)
    api.post(f"/api/projects/{p['id']}/items", json={"items": [{"text": "x"}]})
    item = api.post(f"/api/projects/{p['id']}/next").json()["items"][0]
    r = api.post(
        f"/api/items/{item['id']}/annotations",
        json={"value": {"label": "maybe"}, "client_key": "unknown-label"},
    )
    assert r.status_code == 422 and r.json()["error"]["field"] == "value.label"
    assert api.get(f"/api/projects/{p['id']}").json()["stats"]["annotations"] == 0


def test_bad_client_key_is_refused(api) -> None:  # type: ignore[no-untyped-def]
    p = _project(api)
    api.post(f"/api/projects/{p['id']}/items", json={"items": [{"text": "x"}]})
    r = api.post("/api/items/1/annotations", json={"value": {"label": "pos"}, "client_key": "../../x"})
    assert r.status_code == 422 and r.json()["error"]["field"] == "client_key"


def test_images_are_content_addressed_and_cacheable(api, ctx: AppContext) -> None:  # type: ignore[no-untyped-def]
    p = _project(api, modality="image")
    png = _png()
    r = api.post(
        f"/api/projects/{p['id']}/images",
        files=[("files", ("../../etc/passwd.png", png, "image/png")), ("files", ("b.png", png, "image/png"))],
    )
    assert r.status_code == 201, r.text
    first, second = r.json()["item_ids"]
    item = api.get(f"/api/items/{first}").json()
    assert item["meta"] == {"filename": "passwd.png"}
    media = api.get(item["media_url"])
    assert media.status_code == 200 and media.content == png
    assert media.headers["content-type"] == "image/png"
    assert "immutable" in media.headers["cache-control"]
    again = api.get(item["media_url"], headers={"If-None-Match": media.headers["etag"]})
    assert again.status_code == 304
    files = [f for f in ctx.media.root.rglob("*") if f.is_file()]
    assert len(files) == 1  # the same bytes are stored once
    assert api.get(f"/api/items/{second}/media").content == png


def test_an_upload_decodes_each_image_once(api, ctx: AppContext, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # The route checks every file before storing any; add_image must reuse that check
    # (checked=), not decode again. A wrapper around the real check counts the decodes.
    import hitloop.api.routes.projects as route
    import hitloop.formats.images as formats

    real = formats.check_image
    names: list[str] = []

    def counting(data: bytes, **kwargs):  # type: ignore[no-untyped-def]
        names.append(kwargs["name"])
        return real(data, **kwargs)

    monkeypatch.setattr(route, "check_image", counting)
    monkeypatch.setattr(formats, "check_image", counting)
    p = _project(api, modality="image")
    r = api.post(
        f"/api/projects/{p['id']}/images",
        files=[
            ("files", ("a.png", _png((8, 6)), "image/png")),
            ("files", ("b.png", _png((5, 7)), "image/png")),
        ],
    )
    assert r.status_code == 201, r.text
    assert sorted(names) == ["a.png", "b.png"]
    from sqlalchemy import select

    from hitloop.db.tables import Item, Media

    with ctx.db.read() as s:
        query = select(Media.width, Media.height).join(Item, Item.media_sha256 == Media.sha256)
        sizes = [tuple(row) for row in s.execute(query.order_by(Item.id))]
    assert sizes == [(8, 6), (5, 7)]


def test_non_image_upload_is_refused_and_stores_nothing(api, ctx: AppContext) -> None:  # type: ignore[no-untyped-def]
    p = _project(api, modality="image")
    r = api.post(
        f"/api/projects/{p['id']}/images", files=[("files", ("a.png", b"not an image", "image/png"))]
    )
    assert r.status_code == 415
    assert r.json()["error"]["file"] == "a.png"
    assert api.get(f"/api/projects/{p['id']}").json()["stats"]["total"] == 0
    assert not ctx.media.root.exists() or not any(ctx.media.root.rglob("*.png"))


def test_text_items_cannot_go_to_an_image_project(api) -> None:  # type: ignore[no-untyped-def]
    p = _project(api, modality="image")
    r = api.post(f"/api/projects/{p['id']}/items", json={"items": [{"text": "x"}]})
    assert r.status_code == 422


def test_oversize_body_is_413(app, api, ctx: AppContext) -> None:  # type: ignore[no-untyped-def]
    p = _project(api, modality="image")
    big = b"\x89PNG" + b"0" * (ctx.settings.max_upload_bytes + 10)
    r = api.post(f"/api/projects/{p['id']}/images", files=[("files", ("big.png", big, "image/png"))])
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "too_large"
    assert api.get(f"/api/projects/{p['id']}").json()["stats"]["total"] == 0


def test_import_jsonl_all_or_nothing(api) -> None:  # type: ignore[no-untyped-def]
    p = _project(api)
    good = b'{"text": "a"}\n{"text": "b"}\n'
    r = api.post(f"/api/projects/{p['id']}/import", files={"file": ("data.jsonl", good)})
    assert r.status_code == 201 and r.json()["created"] == 2
    bad = b'{"text": "c"}\n{"text": "d"}\n{"text": \n'
    r = api.post(f"/api/projects/{p['id']}/import", files={"file": ("bad.jsonl", bad)})
    assert r.status_code == 422
    err = r.json()["error"]
    assert (err["file"], err["line"]) == ("bad.jsonl", 3)
    assert api.get(f"/api/projects/{p['id']}").json()["stats"]["total"] == 2


def test_import_csv_without_the_text_column(api) -> None:  # type: ignore[no-untyped-def]
    p = _project(api)
    r = api.post(f"/api/projects/{p['id']}/import", files={"file": ("d.csv", b"body,x\nhello,1\n")})
    assert r.status_code == 422
    err = r.json()["error"]
    assert err["file"] == "d.csv" and err["field"] == "text"


def test_login_sets_a_session_and_writes_need_csrf(client, admin) -> None:  # type: ignore[no-untyped-def]
    r = client.post("/api/login", json={"username": "admin", "password": "wrong-password"})
    assert r.status_code == 401
    r = client.post("/api/login", json={"username": "admin", "password": "admin-password"})
    assert r.status_code == 200
    csrf = r.json()["csrf_token"]
    assert client.get("/api/me").json()["user"]["username"] == "admin"
    body = {"name": "p", "labels": ["a"]}
    refused = client.post("/api/projects", json=body)
    assert refused.status_code == 403 and "CSRF" in refused.json()["error"]["message"]
    assert client.post("/api/projects", json=body, headers={"X-CSRF-Token": "forged"}).status_code == 403
    assert client.post("/api/projects", json=body, headers={"X-CSRF-Token": csrf}).status_code == 201
    assert client.post("/api/logout", headers={"X-CSRF-Token": csrf}).status_code == 204
    assert client.get("/api/me").status_code == 401


def test_tokens_are_shown_once_and_revocable(api) -> None:  # type: ignore[no-untyped-def]
    made = api.post("/api/tokens", json={"name": "ci"}).json()
    assert made["token"].startswith("hl_")
    listed = api.get("/api/tokens").json()
    assert all(t["token"] is None for t in listed)
    headers = {"Authorization": f"Bearer {made['token']}"}
    assert api.get("/api/me", headers=headers).status_code == 200
    assert api.delete(f"/api/tokens/{made['id']}").status_code == 204
    assert api.get("/api/me", headers=headers).status_code == 401


def test_only_admins_manage_users(api, client, ctx: AppContext) -> None:  # type: ignore[no-untyped-def]
    from hitloop.services import auth

    r = api.post("/api/users", json={"username": "ann", "password": "ann-password"})
    assert r.status_code == 201
    token = auth.create_token(ctx.db, r.json()["id"])[1]
    r = client.get("/api/users", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 403
