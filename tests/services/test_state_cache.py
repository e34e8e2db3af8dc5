"""StateCache: kept while the state holds (computed once more when it held settle_s), computed once
under concurrent views, bounded, copies out."""

from __future__ import annotations

import threading
import time
from typing import Any

from hitloop.db.engine import Database
from hitloop.services.state_cache import StateCache


def test_concurrent_views_of_a_cold_key_compute_once(db: Database) -> None:
    cache: StateCache[dict[str, Any]] = StateCache()
    calls: list[int] = []
    start = threading.Barrier(8)
    got: list[dict[str, Any]] = []

    def compute() -> dict[str, Any]:
        calls.append(1)
        time.sleep(0.2)  # long enough for every other view to arrive meanwhile
        return {"n": len(calls)}

    def view() -> None:
        start.wait()
        got.append(cache.get(db, ("p", 1), (5, 7), compute))

    threads = [threading.Thread(target=view) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert calls == [1] and got == [{"n": 1}] * 8
    assert cache.get(db, ("p", 1), (5, 8), compute) == {"n": 2}  # the state moved
    assert cache.get(db, ("p", 2), (5, 8), compute) == {"n": 3}  # another key
    assert len(calls) == 3


def test_results_are_copies_and_entries_are_bounded(db: Database) -> None:
    cache: StateCache[dict[str, list[int]]] = StateCache(entries=2)
    made: list[int] = []

    def compute(k: int) -> dict[str, list[int]]:
        made.append(k)
        return {"values": [k]}

    first = cache.get(db, 1, "s", lambda: compute(1))
    first["values"].append(99)
    assert cache.get(db, 1, "s", lambda: compute(1)) == {"values": [1]}
    cache.get(db, 2, "s", lambda: compute(2))
    cache.get(db, 3, "s", lambda: compute(3))  # key 1, the oldest, goes
    assert made == [1, 2, 3]
    cache.get(db, 3, "s", lambda: compute(3))
    cache.get(db, 1, "s", lambda: compute(1))
    assert made == [1, 2, 3, 1]


def test_databases_are_kept_apart(db: Database, tmp_path: Any) -> None:
    other = Database(f"sqlite:///{tmp_path}/other.db")
    cache: StateCache[str] = StateCache()
    assert cache.get(db, 1, "s", lambda: "mine") == "mine"
    assert cache.get(other, 1, "s", lambda: "theirs") == "theirs"
    assert cache.get(db, 1, "s", lambda: "again") == "mine"
    other.dispose()


def test_a_state_that_held_settle_s_is_computed_once_more_then_settled(db: Database) -> None:
    now = [1_000_000.0]
    cache: StateCache[int] = StateCache(clock=lambda: now[0], settle_s=5.0)
    made: list[int] = []

    def compute() -> int:
        made.append(1)
        return len(made)

    assert cache.get(db, 1, "s", compute) == 1
    now[0] += 4.9  # younger than settle_s: kept
    assert cache.get(db, 1, "s", compute) == 1
    now[0] += 0.1  # the state held settle_s: computed once more, then settled
    assert cache.get(db, 1, "s", compute) == 2
    kept = cache.find(db, 1)
    assert kept is not None and kept.settled
    now[0] += 3600
    assert cache.get(db, 1, "s", compute) == 2 and len(made) == 2
    assert cache.get(db, 1, "t", compute) == 3  # a new state starts unsettled
    kept = cache.find(db, 1)
    assert kept is not None and not kept.settled
    # A result kept again sooner than settle_s after the last one (another caller's keep)
    # does not settle: it is computed once more settle_s after its own time.
    cache.keep(db, 1, "t", 4, now[0] + 1, 0.0)
    kept = cache.find(db, 1)
    assert kept is not None and not kept.settled and kept.value == 4
