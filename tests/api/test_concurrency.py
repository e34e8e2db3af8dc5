"""Sixteen annotators at once through a real HTTP server: nothing lost, nothing doubled."""

from __future__ import annotations

import threading
import uuid
from collections import Counter

import httpx
from sqlalchemy import select

from hitloop.api.context import AppContext
from hitloop.db.tables import Annotation, Item
from hitloop.schemas import ItemIn, ProjectCreate
from hitloop.services import auth, items, members, projects
from hitloop.services.items import ItemLimits
from hitloop.types import Role
from tests.servers import running_server

N_ITEMS = 300
N_CLIENTS = 16


def test_sixteen_concurrent_annotators(app, ctx: AppContext) -> None:  # type: ignore[no-untyped-def]
    owner = auth.create_user(ctx.db, "owner", "owner-password")
    project = projects.create_project(ctx.db, owner.id, ProjectCreate(name="load", labels=["a", "b", "c"]))
    items.add_items(
        ctx.db, project.id, owner.id, [ItemIn(text=f"text {i}") for i in range(N_ITEMS)], ItemLimits()
    )
    tokens = []
    for i in range(N_CLIENTS):
        user = auth.create_user(ctx.db, f"worker{i}", "worker-password")
        members.add_member(ctx.db, None, project.id, user.username, Role.ANNOTATOR)
        tokens.append(auth.create_token(ctx.db, user.id)[1])

    acknowledged: list[tuple[int, int, int]] = []  # (annotation id, item id, user id)
    failures: list[str] = []
    lock = threading.Lock()

    def annotator(index: int, base: str) -> None:
        headers = {"Authorization": f"Bearer {tokens[index]}"}
        with httpx.Client(base_url=base, headers=headers, timeout=30) as http:
            for round_ in range(N_ITEMS):
                r = http.post(f"/api/projects/{project.id}/next", json={"count": 2})
                if r.status_code != 200:
                    failures.append(f"next {r.status_code} {r.text}")
                    return
                batch = r.json()["items"]
                if not batch:
                    return
                for item in batch:
                    body = {"value": {"label": "abc"[item["id"] % 3]}, "client_key": uuid.uuid4().hex}
                    r = http.post(f"/api/items/{item['id']}/annotations", json=body)
                    if round_ % 7 == 0:  # a retry of the same submit, as after a lost response
                        r2 = http.post(f"/api/items/{item['id']}/annotations", json=body)
                        if r2.status_code != 200 or r2.json()["id"] != r.json()["id"]:
                            failures.append(f"replay {r2.status_code} {r2.text}")
                    if r.status_code != 201:
                        failures.append(f"submit {r.status_code} {r.text}")
                        continue
                    out = r.json()
                    with lock:
                        acknowledged.append((out["id"], out["item_id"], out["user_id"]))

    with running_server(app) as base:
        threads = [threading.Thread(target=annotator, args=(i, base)) for i in range(N_CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=300)

    assert failures == []
    with ctx.db.read() as s:
        stored = s.execute(
            select(Annotation.id, Annotation.item_id, Annotation.user_id).where(
                Annotation.project_id == project.id
            )
        ).all()
        states = Counter(s.scalars(select(Item.state).where(Item.project_id == project.id)))
    assert sorted(acknowledged) == sorted(tuple(r) for r in stored)
    per_item = Counter(item for _, item, _ in stored)
    assert len(per_item) == N_ITEMS
    assert set(per_item.values()) == {1}
    assert states == {"done": N_ITEMS}
    assert len({user for _, _, user in stored}) > 1
