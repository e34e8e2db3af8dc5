"""Review, agreement, consensus and audit over HTTP: who may do what, and what bad input gets."""

from __future__ import annotations

import csv
import io
import json
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hitloop.services import auth


def _client(app: Any, ctx: Any, name: str) -> TestClient:
    user = auth.create_user(ctx.db, name, f"{name}-password")
    secret = auth.create_token(ctx.db, user.id, "t")[1]
    client = TestClient(app)
    client.headers["Authorization"] = f"Bearer {secret}"
    return client


@pytest.fixture
def world(app: Any, ctx: Any, api: Any) -> dict[str, Any]:
    """A project owned by the admin, with an annotator, a reviewer, a viewer and an outsider."""
    project = api.post("/api/projects", json={"name": "p", "labels": ["cat", "dog"]}).json()
    pid = project["id"]
    api.post(f"/api/projects/{pid}/items", json={"items": [{"text": f"t{i}"} for i in range(4)]})
    people = {name: _client(app, ctx, name) for name in ("ann", "rev", "vic", "out")}
    for name, role in (("ann", "annotator"), ("rev", "reviewer"), ("vic", "viewer")):
        r = api.post(f"/api/projects/{pid}/members", json={"username": name, "role": role})
        assert r.status_code == 201, r.text
    answers = []
    for item in people["ann"].post(f"/api/projects/{pid}/next", json={"count": 2}).json()["items"]:
        body = {"value": {"label": "cat"}, "client_key": uuid.uuid4().hex}
        answers.append(people["ann"].post(f"/api/items/{item['id']}/annotations", json=body).json()["id"])
    return {"pid": pid, "answers": answers, "admin": api, **people}


def test_who_may_review_read_agreement_and_audit(world: dict[str, Any]) -> None:
    pid = world["pid"]
    expected = {
        # route: statuses for admin, rev (reviewer), vic (viewer), ann (annotator), out (not a member)
        f"/api/projects/{pid}/review": (200, 200, 403, 403, 404),
        f"/api/projects/{pid}/agreement": (200, 200, 200, 403, 404),
        f"/api/projects/{pid}/consensus": (200, 200, 200, 403, 404),
        f"/api/projects/{pid}/consensus/export": (200, 200, 200, 403, 404),
        f"/api/projects/{pid}/anchoring": (200, 200, 200, 403, 404),
        f"/api/projects/{pid}/audit": (200, 403, 403, 403, 404),
        f"/api/projects/{pid}/audit/export": (200, 403, 403, 403, 404),
    }
    for url, statuses in expected.items():
        got = tuple(world[who].get(url).status_code for who in ("admin", "rev", "vic", "ann", "out"))
        assert got == statuses, url


def test_review_round_trip_and_its_audit_trail(world: dict[str, Any]) -> None:
    pid, (a1, a2) = world["pid"], world["answers"]
    rev, ann, out = world["rev"], world["ann"], world["out"]
    queue = rev.get(f"/api/projects/{pid}/review").json()
    assert queue["total"] == 2 and queue["entries"][0]["answers"][0]["username"] == "ann"

    assert ann.post(f"/api/annotations/{a1}/review", json={"action": "accept"}).status_code == 403
    assert out.post(f"/api/annotations/{a1}/review", json={"action": "accept"}).status_code == 404
    r = rev.post(f"/api/annotations/{a1}/review", json={"action": "fix", "value": {"label": "dog"}})
    assert r.status_code == 200, r.text
    assert r.json()["review"] == "fixed" and r.json()["fixed_by"]
    r = rev.post(f"/api/annotations/{a2}/review", json={"action": "reject", "note": "wrong"})
    assert r.json() == {"annotation_id": a2, "review": "rejected", "fixed_by": None, "item_state": "open"}

    page = world["admin"].get(f"/api/projects/{pid}/audit", params={"limit": 2}).json()
    assert [e["action"] for e in page["events"]] == ["annotation.rejected", "annotation.fixed"]
    assert page["events"][0]["username"] == "rev" and page["events"][0]["detail"]["note"] == "wrong"
    older = world["admin"].get(f"/api/projects/{pid}/audit", params={"before": page["next_before"]}).json()
    assert all(e["id"] < page["next_before"] for e in older["events"]) and older["next_before"] is None
    assert older["events"][-1]["action"] == "project.create"

    lines = world["admin"].get(f"/api/projects/{pid}/audit/export").text.splitlines()
    events = [json.loads(line) for line in lines]
    assert [e["id"] for e in events] == sorted(e["id"] for e in events)
    assert events[-1]["action"] == "annotation.rejected"
    rows = list(
        csv.DictReader(io.StringIO(world["admin"].get(f"/api/projects/{pid}/audit/export?format=csv").text))
    )
    assert len(rows) == len(events) and json.loads(rows[-1]["detail"])["note"] == "wrong"


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "field"),
    [
        ("post", "/api/annotations/{a}/review", {"action": "approve"}, 422, "action"),
        (
            "post",
            "/api/annotations/{a}/review",
            {"action": "fix", "value": {"label": "emu"}},
            422,
            "value.label",
        ),
        ("post", "/api/annotations/{a}/review", {"action": "accept", "extra": 1}, 422, "extra"),
        ("post", "/api/annotations/2147483648/review", {"action": "accept"}, 422, "annotation_id"),
        ("post", "/api/annotations/999999/review", {"action": "accept"}, 404, "annotation_id"),
        ("get", "/api/projects/{p}/review?queue=mine", None, 422, "queue"),
        ("get", "/api/projects/{p}/review?limit=0", None, 422, "limit"),
        ("get", "/api/projects/{p}/consensus?method=best", None, 422, "method"),
        ("put", "/api/projects/{p}/consensus/method", {"method": "best"}, 422, "method"),
        ("get", "/api/projects/{p}/audit?before=0", None, 422, "before"),
        ("get", "/api/projects/{p}/audit/export?format=xml", None, 422, "format"),
    ],
    ids=[
        "unknown-action",
        "unknown-label",
        "extra-field",
        "id-too-large",
        "unknown-annotation",
        "unknown-queue",
        "limit-zero",
        "unknown-method",
        "set-unknown-method",
        "before-zero",
        "unknown-format",
    ],
)
def test_bad_input_is_a_precise_4xx(
    world: dict[str, Any], method: str, path: str, body: Any, status: int, field: str
) -> None:
    url = path.format(a=world["answers"][0], p=world["pid"])
    before = world["admin"].get(f"/api/projects/{world['pid']}/audit/export").text
    r = getattr(world["admin"], method)(url, **({"json": body} if body is not None else {}))
    assert r.status_code == status, r.text
    assert r.json()["error"]["field"] == field
    assert world["admin"].get(f"/api/projects/{world['pid']}/audit/export").text == before


def test_consensus_method_setting_and_export(world: dict[str, Any]) -> None:
    pid, admin = world["pid"], world["admin"]
    assert (
        world["rev"].put(f"/api/projects/{pid}/consensus/method", json={"method": "glad"}).status_code == 403
    )
    r = admin.put(f"/api/projects/{pid}/consensus/method", json={"method": "majority-vote"})
    assert r.json() == {"method": "majority-vote"}
    lines = admin.get(f"/api/projects/{pid}/consensus/export").text.splitlines()
    assert [json.loads(line)["label"] for line in lines] == ["cat", "cat"]
    assert all(json.loads(line)["method"] == "majority-vote" for line in lines)
    assert admin.get(f"/api/projects/{pid}/agreement").json()["items"] == 0
