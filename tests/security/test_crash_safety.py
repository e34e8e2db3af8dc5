"""Kill the server with SIGKILL in the middle of a labeling load, restart it, and count.

Every annotation a client saw acknowledged must be stored exactly once; submits
that were in flight when the server died are retried with the same client key
and must be stored once too (201, or 200 as a replay); items leased to the
clients return to the queue when their lease runs out. On SQLite, and on
PostgreSQL when the suite has one; with one answer per item (the lease on the
item row), and with two answers per item plus gold items mixed in (a lease row
per person in ``leases``), where no item may get more answers than that and
nobody may answer an item twice.
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
import pytest
from sqlalchemy import select

from hitloop.db.engine import Database
from hitloop.db.tables import Annotation, Item, Lease
from hitloop.schemas import GoldMark, ItemIn, ProjectCreate, TeamSettingsUpdate
from hitloop.services import auth, gold, items, members, projects, team
from hitloop.services.items import ItemLimits
from hitloop.types import Role
from tests.servers import free_port

N_CLIENTS = 6
LEASE_SECONDS = 5  # the shortest lease the settings allow


@dataclass(frozen=True)
class Case:
    n_items: int  # at most 100 left open after the load: the late client lists them all in `have`
    overlap: int
    gold_every: int  # every n-th item is a gold item (0: none)
    gold_rate: float
    kill_after: int  # acknowledged answers before the SIGKILL


CASES = {
    "overlap1": Case(n_items=120, overlap=1, gold_every=0, gold_rate=0.0, kill_after=40),
    # A shorter load on fewer items: the lease rows are what this case adds, not the volume.
    "overlap2-gold": Case(n_items=60, overlap=2, gold_every=10, gold_rate=0.25, kill_after=20),
}


@dataclass
class Load:
    acknowledged: set[tuple[int, str]] = field(default_factory=set)  # (annotation id, client key)
    in_flight: list[tuple[str, int, dict[str, Any]]] = field(default_factory=list)  # (token, item, body)
    held: set[tuple[int, int]] = field(default_factory=set)  # (user, item) leased and not yet answered
    unexpected: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


def _server(data_dir: Path, database_url: str, port: int) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "HITLOOP_DATA_DIR": str(data_dir),
        "HITLOOP_DATABASE_URL": database_url,
        "HITLOOP_LEASE_SECONDS": str(LEASE_SECONDS),
        "HITLOOP_MAX_LEASES_PER_USER": "200",
    }
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


def _kill(proc: subprocess.Popen[bytes]) -> None:
    """SIGKILL: no shutdown, no flush, no rollback."""
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    if proc.stderr:
        proc.stderr.close()


def _label(item_id: int) -> str:
    """Every client's answer to an item (and a gold item's known answer: nobody gets paused)."""
    return "ab"[item_id % 2]


def _annotator(
    base: str, token: str, user_id: int, project_id: int, load: Load, stop: threading.Event
) -> None:
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
                load.held.update((user_id, i) for i in batch)
            for item_id in batch:
                body: dict[str, Any] = {"value": {"label": _label(item_id)}, "client_key": uuid.uuid4().hex}
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
                    load.held.discard((user_id, item_id))


def _holds(db: Database, project_id: int) -> set[tuple[int, int]]:
    """Every (user, item) hold in the database: on the item row (one answer per item) or in ``leases``."""
    with db.read() as s:
        on_row = s.execute(
            select(Item.leased_by, Item.id).where(
                Item.project_id == project_id, Item.state == "leased", Item.leased_by.is_not(None)
            )
        ).all()
        rows = s.execute(select(Lease.user_id, Lease.item_id).where(Lease.project_id == project_id)).all()
    return {(int(u), int(i)) for u, i in on_row} | {(int(u), int(i)) for u, i in rows}


@pytest.mark.parametrize("case", CASES.values(), ids=CASES.keys())
def test_acknowledged_answers_survive_sigkill_and_leases_come_back(
    tmp_path: Path, own_database_url: str, case: Case
) -> None:
    server_dir = tmp_path / "data"
    db = Database(own_database_url)
    owner = auth.create_user(db, "owner", "owner-password")
    project = projects.create_project(db, owner.id, ProjectCreate(name="crash", labels=["a", "b"]))
    item_ids = items.add_items(
        db, project.id, owner.id, [ItemIn(text=f"t{i}") for i in range(case.n_items)], ItemLimits()
    )
    gold_ids = set(item_ids[:: case.gold_every]) if case.gold_every else set()
    if gold_ids:
        marks = [GoldMark(item_id=i, value={"label": _label(i)}) for i in sorted(gold_ids)]
        assert gold.mark_gold(db, None, project.id, marks) == len(gold_ids)
    team.update_team_settings(
        db, None, project.id, TeamSettingsUpdate(overlap=case.overlap, gold_rate=case.gold_rate)
    )
    names = [f"w{i}" for i in range(N_CLIENTS)] + ["hoarder", "late"]
    users: list[tuple[int, str]] = []  # (user id, token)
    for name in names:
        user = auth.create_user(db, name, "worker-password")
        members.add_member(db, None, project.id, name, Role.ANNOTATOR)
        users.append((user.id, auth.create_token(db, user.id)[1]))
    late_id, late_token = users.pop()
    hoarder_id, hoarder_token = users.pop()

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    load, stop = Load(), threading.Event()
    proc = _server(server_dir, own_database_url, port)
    try:
        threads = [
            threading.Thread(target=_annotator, args=(base, t, u, project.id, load, stop)) for u, t in users
        ]
        for t in threads:
            t.start()
        # Someone holds items when the server dies, whatever the annotators' timing: the
        # hoarder takes three and never answers them (annotators between their two submits
        # also hold one, but not always: all six can be in `next` or a last submit). With
        # gold items mixed in it takes more until it holds a regular one too.
        hoarded: list[int] = []
        while not set(hoarded) - gold_ids:
            r = httpx.post(
                f"{base}/api/projects/{project.id}/next",
                json={"count": 3, "have": hoarded},
                headers={"Authorization": f"Bearer {hoarder_token}"},
            )
            assert r.status_code == 200 and len(r.json()["items"]) == 3, r.text
            hoarded += [it["id"] for it in r.json()["items"]]
        with load.lock:
            load.held.update((hoarder_id, i) for i in hoarded)
        deadline = time.monotonic() + 120
        while len(load.acknowledged) < case.kill_after and time.monotonic() < deadline:
            time.sleep(0.005)
        _kill(proc)
        stop.set()
        for t in threads:
            t.join(timeout=30)
        assert load.unexpected == []
        assert len(load.acknowledged) >= case.kill_after
        killed_at = time.time()

        proc = _server(server_dir, own_database_url, port)
        # In-flight submits are retried with the same key, as the labeling page's outbox does.
        user_of = {t: u for u, t in users}
        for token, item_id, body in load.in_flight:
            r = httpx.post(
                f"{base}/api/items/{item_id}/annotations",
                json=body,
                headers={"Authorization": f"Bearer {token}"},
            )
            assert r.status_code in (200, 201), r.text
            load.acknowledged.add((r.json()["id"], body["client_key"]))
            load.held.discard((user_of[token], item_id))

        assert load.held <= _holds(db, project.id)  # still reserved: the leases have not run out yet
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
        # Every hold of the killed clients ran out and was swept: only the late client's are left.
        assert {u for u, _ in _holds(db, project.id)} <= {late_id}
    finally:
        _kill(proc)
        db.dispose()  # (the checks below reconnect)

    with db.read() as s:
        stored = s.execute(
            select(
                Annotation.id,
                Annotation.client_key,
                Annotation.item_id,
                Annotation.user_id,
                Annotation.superseded_by,
            ).where(Annotation.project_id == project.id)
        ).all()
        counts = s.execute(select(Item.id, Item.n_answers).where(Item.project_id == project.id)).all()
        n_answers: dict[int, int] = {int(r.id): int(r.n_answers) for r in counts}
    db.dispose()
    stored_keys = Counter((r.id, r.client_key) for r in stored)
    assert load.acknowledged <= set(stored_keys)
    assert all(n == 1 for n in stored_keys.values())
    assert len({r.client_key for r in stored}) == len(stored)  # one row per submit, retries included
    assert len(stored) == len(load.acknowledged)  # nothing stored that no client asked for
    assert all(r.superseded_by is None for r in stored)  # nobody edited: every answer is current
    assert max(Counter((r.item_id, r.user_id) for r in stored).values()) == 1  # nobody answered twice
    per_item = Counter(r.item_id for r in stored)
    assert {i: per_item[i] for i in n_answers} == n_answers  # the items' counts agree with the rows
    assert max(n for i, n in per_item.items() if i not in gold_ids) <= case.overlap
    # Every item that lost its annotator in the crash is served again, and nothing that
    # has all its answers is (gold items are served to everyone, at the gold rate).
    held_items = {i for _, i in load.held}
    assert held_items - gold_ids
    assert held_items - gold_ids <= set(served)
    assert set(served) - gold_ids == {
        i for i, n in n_answers.items() if i not in gold_ids and n < case.overlap
    }
