"""Kill the server with SIGKILL in the middle of a labeling load, restart it, and count.

Every annotation a client saw acknowledged must be stored exactly once; submits
that were in flight when the server died are retried with the same client key
and must be stored once too (201, or 200 as a replay); items leased to the
clients return to the queue when their lease runs out.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from hitloop.db.engine import Database
from hitloop.db.tables import Annotation, Item
from hitloop.schemas import ItemIn, ProjectCreate
from hitloop.services import auth, items, members, projects
from hitloop.services.items import ItemLimits
from hitloop.types import Role
from tests.servers import free_port

N_ITEMS = 120
N_CLIENTS = 6
KILL_AFTER = 40  # acknowledged answers before the SIGKILL
LEASE_SECONDS = 5  # the shortest lease the settings allow


@dataclass
class Load:
    acknowledged: set[tuple[int, str]] = field(default_factory=set)  # (annotation id, client key)
    in_flight: list[tuple[str, int, dict[str, Any]]] = field(default_factory=list)  # (token, item, body)
    held: set[int] = field(default_factory=set)  # items leased to a client and not yet answered
    unexpected: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _server(data_dir: Path, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "HITLOOP_DATA_DIR": str(data_dir),
        "HITLOOP_LEASE_SECONDS": str(LEASE_SECONDS),
        "HITLOOP_MAX_LEASES_PER_USER": "200",
    }
    env.pop("HITLOOP_DATABASE_URL", None)
    cmd = [sys.executable, "-m", "uvicorn", "--factory", "hitloop.api:create_app"]
    cmd += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning", "--no-access-log"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/health", timeout=1).status_code == 200:
                return proc
        except httpx.TransportError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            proc.kill()
            err = proc.stderr.read().decode() if proc.stderr else ""
            raise RuntimeError(f"the server did not start: {err[-2000:]}")
        time.sleep(0.1)


def _annotator(base: str, token: str, project_id: int, load: Load, stop: threading.Event) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=base, headers=headers, timeout=10) as http:
        while not stop.is_set():
            try:
                r = http.post(f"/api/projects/{project_id}/next", json={"count": 2})
            except httpx.TransportError:
                return  # the server is gone; whatever we hold stays leased
            if r.status_code != 200:
                load.unexpected.append(f"next {r.status_code} {r.text}")
                return
            batch = [it["id"] for it in r.json()["items"]]
            if not batch:
                return
            with load.lock:
                load.held.update(batch)
            for item_id in batch:
                body = {"value": {"label": "ab"[item_id % 2]}, "client_key": uuid.uuid4().hex}
                try:
                    r = http.post(f"/api/items/{item_id}/annotations", json=body)
                except httpx.TransportError:
                    with load.lock:
                        load.in_flight.append((token, item_id, body))
                    return
                if r.status_code != 201:
                    load.unexpected.append(f"submit {r.status_code} {r.text}")
                    return
                with load.lock:
                    load.acknowledged.add((r.json()["id"], body["client_key"]))
                    load.held.discard(item_id)


def test_acknowledged_answers_survive_sigkill_and_leases_come_back(tmp_path: Path) -> None:
    server_dir = tmp_path / "data"
    db = Database(f"sqlite:///{server_dir / 'hitloop.db'}")
    db.upgrade()
    owner = auth.create_user(db, "owner", "owner-password")
    project = projects.create_project(db, owner.id, ProjectCreate(name="crash", labels=["a", "b"]))
    items.add_items(db, project.id, owner.id, [ItemIn(text=f"t{i}") for i in range(N_ITEMS)], ItemLimits())
    names = [f"w{i}" for i in range(N_CLIENTS)] + ["hoarder", "late"]
    tokens = []
    for name in names:
        user = auth.create_user(db, name, "worker-password")
        members.add_member(db, None, project.id, name, Role.ANNOTATOR)
        tokens.append(auth.create_token(db, user.id)[1])
    late_token = tokens.pop()
    hoarder_token = tokens.pop()

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    load, stop = Load(), threading.Event()
    proc = _server(server_dir, port)
    try:
        threads = [
            threading.Thread(target=_annotator, args=(base, t, project.id, load, stop)) for t in tokens
        ]
        for t in threads:
            t.start()
        # Someone holds items when the server dies, whatever the annotators' timing: the
        # hoarder takes three and never answers them (annotators between their two submits
        # also hold one, but not always: all six can be in `next` or a last submit).
        hoarded = httpx.post(
            f"{base}/api/projects/{project.id}/next",
            json={"count": 3},
            headers={"Authorization": f"Bearer {hoarder_token}"},
        )
        assert hoarded.status_code == 200 and len(hoarded.json()["items"]) == 3, hoarded.text
        with load.lock:
            load.held.update(it["id"] for it in hoarded.json()["items"])
        deadline = time.monotonic() + 120
        while len(load.acknowledged) < KILL_AFTER and time.monotonic() < deadline:
            time.sleep(0.005)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        stop.set()
        for t in threads:
            t.join(timeout=30)
        assert load.unexpected == []
        assert len(load.acknowledged) >= KILL_AFTER
        killed_at = time.time()

        proc = _server(server_dir, port)
        # In-flight submits are retried with the same key, as the labeling page's outbox does.
        for token, item_id, body in load.in_flight:
            r = httpx.post(
                f"{base}/api/items/{item_id}/annotations",
                json=body,
                headers={"Authorization": f"Bearer {token}"},
            )
            assert r.status_code in (200, 201), r.text
            load.acknowledged.add((r.json()["id"], body["client_key"]))
            load.held.discard(item_id)

        with db.read() as s:
            leased = set(
                s.scalars(select(Item.id).where(Item.project_id == project.id, Item.state == "leased"))
            )
        assert load.held <= leased  # still reserved: the lease has not run out yet
        time.sleep(max(0.0, killed_at + LEASE_SECONDS + 0.5 - time.time()))
        served: list[int] = []
        late = {"Authorization": f"Bearer {late_token}"}
        while True:
            r = httpx.post(
                f"{base}/api/projects/{project.id}/next", json={"count": 50, "have": served}, headers=late
            )
            assert r.status_code == 200, r.text
            got = [it["id"] for it in r.json()["items"] if it["id"] not in served]
            if not got:
                break
            served += got
    finally:
        proc.kill()
        proc.wait(timeout=10)

    with db.read() as s:
        stored = s.execute(
            select(Annotation.id, Annotation.client_key, Annotation.item_id).where(
                Annotation.project_id == project.id
            )
        ).all()
        unanswered = set(s.scalars(select(Item.id).where(Item.project_id == project.id, Item.n_answers == 0)))
    db.dispose()
    stored_keys = Counter((r.id, r.client_key) for r in stored)
    assert load.acknowledged <= set(stored_keys)
    assert all(n == 1 for n in stored_keys.values())
    assert len({r.client_key for r in stored}) == len(stored)  # one row per submit, retries included
    assert len(stored) == len(load.acknowledged)  # nothing stored that no client asked for
    per_item = Counter(r.item_id for r in stored)
    assert max(per_item.values()) == 1  # overlap 1: no item answered twice
    # Every item that lost its annotator in the crash is served again, and nothing answered is.
    assert load.held
    assert load.held <= set(served)
    assert set(served) == unanswered
