"""Below managers, nothing tells a gold item from a regular one in the same situation.

An annotator with gold items mixed in compares what they read about gold and
regular items: ``next``, ``GET /api/items/{id}``, their history, the project's
stats (API and the label page); a reviewer compares the review queue. A
manager still sees the gold items and the progress without them.
"""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

import pytest
from fastapi.testclient import TestClient

from hitloop.schemas import GoldMark, ItemIn, ProjectCreate, TeamSettingsUpdate
from hitloop.services import auth, gold, items, members, projects, team
from hitloop.services.items import ItemLimits
from hitloop.types import Role
from tests.web.conftest import log_in

N_ITEMS, N_GOLD = 20, 5


def _client(app: Any, ctx: Any, name: str) -> TestClient:
    user = auth.create_user(ctx.db, name, f"{name}-password")
    client = TestClient(app)
    client.headers["Authorization"] = f"Bearer {auth.create_token(ctx.db, user.id, 't')[1]}"
    return client


def _looks(item: dict[str, Any]) -> str:
    """Everything about an item that is not its own content."""
    return json.dumps(
        {k: v for k, v in item.items() if k not in ("id", "text", "external_id")}, sort_keys=True
    )


def _same(label: str, by_item: dict[int, dict[str, Any]], gold_ids: set[int]) -> None:
    gold_looks = {_looks(v) for k, v in by_item.items() if k in gold_ids}
    regular_looks = {_looks(v) for k, v in by_item.items() if k not in gold_ids}
    assert gold_looks and gold_looks == regular_looks, label


@pytest.mark.parametrize("overlap", [1, 2])
def test_an_annotator_cannot_tell_gold_items_apart(app: Any, ctx: Any, overlap: int) -> None:
    owner = auth.create_user(ctx.db, "owner", "owner-password")
    pid = projects.create_project(ctx.db, owner.id, ProjectCreate(name="p", labels=["a", "b"])).id
    ids = items.add_items(ctx.db, pid, None, [ItemIn(text=f"t{i}") for i in range(N_ITEMS)], ItemLimits())
    gold_ids = set(ids[:N_GOLD])
    gold.mark_gold(ctx.db, None, pid, [GoldMark(item_id=i, value={"label": "a"}) for i in gold_ids])
    # Gold rate 1: the first "next" serves every gold item and fills up with regular ones.
    team.update_team_settings(ctx.db, None, pid, TeamSettingsUpdate(gold_rate=1.0, overlap=overlap))
    people = {name: _client(app, ctx, name) for name in ("ann", "rev", "man")}
    for name, role in (("ann", Role.ANNOTATOR), ("rev", Role.REVIEWER), ("man", Role.MANAGER)):
        members.add_member(ctx.db, None, pid, name, role)
    ann, rev, man = people["ann"], people["rev"], people["man"]

    served = ann.post(f"/api/projects/{pid}/next", json={"count": 8}).json()["items"]
    assert len(served) == 8 and len({it["id"] for it in served} & gold_ids) == N_GOLD
    _same("next", {it["id"]: it for it in served}, gold_ids)
    _same("held", {it["id"]: ann.get(f"/api/items/{it['id']}").json() for it in served}, gold_ids)
    assert {ann.get(f"/api/items/{it['id']}").json()["lease_until"] for it in served} == {
        served[0]["lease_until"]
    }

    skipped = {min(gold_ids), min(set(ids) - gold_ids)}
    for it in served:
        body: dict[str, Any] = {"client_key": uuid.uuid4().hex}
        body.update({"skip": True} if it["id"] in skipped else {"value": {"label": "b"}})
        assert ann.post(f"/api/items/{it['id']}/annotations", json=body).status_code == 201

    history = ann.get(f"/api/projects/{pid}/history").json()
    assert len(history) == 8
    for was_skipped in (True, False):
        entries = {h["item"]["id"]: h["item"] for h in history if h["annotation"]["skipped"] is was_skipped}
        _same(f"history, skipped={was_skipped}", entries, gold_ids)
    answered = {it["id"] for it in served} - skipped
    after = {i: ann.get(f"/api/items/{i}").json() for i in answered}
    _same("answered", after, gold_ids)
    assert {v["state"] for v in after.values()} == {"done" if overlap == 1 else "partial"}

    stats = ann.get(f"/api/projects/{pid}").json()["stats"]
    assert (stats["total"], stats["labeled"]) == (N_ITEMS, len(answered) if overlap == 1 else 0)
    [listed] = ann.get("/api/projects").json()
    assert listed["stats"] == stats
    assert rev.get(f"/api/projects/{pid}").json()["stats"] == stats

    queue = rev.get(f"/api/projects/{pid}/review", params={"limit": 50}).json()
    entries = {e["item"]["id"]: e["item"] for e in queue["entries"]}
    assert set(entries) == answered
    _same("review queue", entries, gold_ids)

    # The label page's progress shows the same numbers.
    page = TestClient(app)
    login = log_in(page, "ann", "ann-password")
    assert login.status_code == 303
    html = page.get(f"/projects/{pid}/label").text
    assert re.search(rf'id="hl-project-total">{N_ITEMS}<', html), html
    assert re.search(rf'id="hl-project-labeled">{stats["labeled"]}<', html)
    assert "gold" not in html.lower()

    # A manager still sees gold as gold: listed with its known answer, and out of the progress.
    assert {g["item_id"] for g in man.get(f"/api/projects/{pid}/gold").json()} == gold_ids
    manager_stats = man.get(f"/api/projects/{pid}").json()["stats"]
    assert manager_stats["total"] == N_ITEMS - N_GOLD
