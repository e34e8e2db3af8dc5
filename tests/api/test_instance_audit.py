"""The instance's audit log (events of no project) over HTTP: administrators only, paged and exported."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hitloop.schemas import ProjectCreate
from hitloop.services import auth, projects

INSTANCE = [
    *("user.create", "user.create", "token.create", "token.create"),  # root and alice, each with a token
    *("session.create", "token.create", "token.revoke"),  # alice logs in, makes a token and revokes it
]


@pytest.fixture
def world(app: Any, ctx: Any) -> dict[str, Any]:
    """An administrator and Alice (the owner of a project), each with a token; Alice logs in and
    revokes a second token. Events, oldest first: INSTANCE, plus the project's own."""
    root = auth.create_user(ctx.db, "root", "root-password", is_admin=True)
    alice = auth.create_user(ctx.db, "alice", "alice-password")
    clients = {}
    for user in (root, alice):
        client = TestClient(app)
        client.headers["Authorization"] = f"Bearer {auth.create_token(ctx.db, user.id, 'cli')[1]}"
        clients[user.username] = client
    projects.create_project(ctx.db, alice.id, ProjectCreate(name="p", labels=["a", "b"]))
    browser = TestClient(app)
    assert browser.post("/api/login", json={"username": "alice", "password": "alice-password"}).is_success
    spare = clients["alice"].post("/api/tokens", json={"name": "spare"}).json()["id"]
    assert clients["alice"].delete(f"/api/tokens/{spare}").status_code == 204
    return {**clients, "anonymous": TestClient(app)}


def test_an_administrator_reads_the_instance_events_newest_first_a_page_at_a_time(world: Any) -> None:
    root = world["root"]
    everything = root.get("/api/audit", params={"limit": 500}).json()
    events = everything["events"]
    assert [e["action"] for e in events] == INSTANCE[::-1]  # no project.create: that is the project's
    assert everything["next_before"] is None
    assert events[0]["username"] == "alice" and events[0]["object_type"] == "api_token"
    assert events[-1]["detail"] == {"username": "root"}
    seen, before = [], None
    while True:
        page = root.get("/api/audit", params={"limit": 4, **({"before": before} if before else {})}).json()
        seen += [e["id"] for e in page["events"]]
        before = page["next_before"]
        if before is None:
            break
    assert seen == [e["id"] for e in events]


def test_the_export_is_oldest_first_as_jsonl_or_csv(world: Any) -> None:
    r = world["root"].get("/api/audit/export")
    assert r.status_code == 200 and r.headers["content-type"] == "application/x-ndjson"
    assert 'filename="instance-audit.jsonl"' in r.headers["content-disposition"]
    lines = [json.loads(line) for line in r.text.splitlines()]
    assert [e["action"] for e in lines] == INSTANCE
    assert set(lines[0]) == {
        "id",
        "created_at",
        "user_id",
        "username",
        "action",
        "object_type",
        "object_id",
        "detail",
    }
    r = world["root"].get("/api/audit/export", params={"format": "csv"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(r.text)))
    assert [row["action"] for row in rows] == INSTANCE
    assert json.loads(rows[0]["detail"]) == {"username": "root"}


@pytest.mark.parametrize("url", ["/api/audit", "/api/audit/export", "/api/audit/export?format=csv"])
def test_only_administrators_read_it(world: Any, url: str) -> None:
    r = world["alice"].get(url)  # the owner of a project is no administrator
    assert r.status_code == 403 and r.json()["error"]["message"] == "only an administrator may do this"
    assert "alice" not in r.text and "token" not in r.text
    assert world["anonymous"].get(url).status_code == 401


@pytest.mark.parametrize(
    ("query", "field"),
    [({"before": 0}, "before"), ({"limit": 0}, "limit"), ({"limit": 501}, "limit")],
    ids=["before-0", "limit-0", "limit-501"],
)
def test_bad_paging_is_422_naming_the_parameter(world: Any, query: dict[str, int], field: str) -> None:
    r = world["root"].get("/api/audit", params=query)
    assert r.status_code == 422 and field in r.json()["error"]["field"], r.text


def test_an_unknown_export_format_is_422(world: Any) -> None:
    r = world["root"].get("/api/audit/export", params={"format": "xml"})
    assert r.status_code == 422 and "format" in r.json()["error"]["field"], r.text
