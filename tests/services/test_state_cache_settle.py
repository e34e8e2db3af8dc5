"""Every StateCache user ends exact after an answer committed out of id order.

On PostgreSQL an answer may commit after a computation with an id below the newest one, so
the project's state does not move. Each cache (agreement, box quality, label-error queue)
may serve its result without that answer for ``settle_s``; then it computes once more, gets
the answer, and computes no more while the state holds. A fake clock stands in for time
(no sleeps); the late answers are inserted with ids below the newest, as such a commit
leaves them. On SQLite and PostgreSQL. (The project stats' own test of this rule is in
test_project_stats_cache.py.)
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import insert, select

from hitloop.api.context import AppContext
from hitloop.db.engine import Database
from hitloop.db.tables import Annotation, Item
from hitloop.media.store import MediaStore
from hitloop.services import agreement, auth, boxes, label_error_queue
from hitloop.services.state_cache import StateCache
from tests.agreement_setup import shared_project, submit
from tests.services.test_boxes_service import add, boxes_project, png, projects_row_overlap
from tests.services.test_review import flipped_topics

NEWEST, LATE = 10_000, 5_000  # answer ids: the late answers' are below the newest


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def _insert(db: Database, answer_id: int, pid: int, user: int, item: int, value: dict[str, Any]) -> None:
    """An answer row with a chosen id, as a transaction committing out of id order leaves it."""
    row = {"id": answer_id, "item_id": item, "project_id": pid, "user_id": user, "value": value}
    with db.write() as s:
        s.execute(
            insert(Annotation).values(
                label=value.get("label"),
                skipped=False,
                created_at=time.time(),
                client_key=uuid.uuid4().hex,
                **row,
            )
        )


@dataclass
class Scenario:
    view: Callable[[], Any]  # what a page view gets (the cache's result)
    fresh: Callable[[], Any]  # the same computed from scratch, nothing kept
    add_late: Callable[[], None]  # inserts answers with ids below the newest
    changed: Callable[[Any, Any], bool]  # (before, after): the late answers are in after


def _agreement(ctx: AppContext, media: MediaStore) -> Scenario:
    pid, ids = shared_project(ctx, ["a", "b"], 4)
    ann, bob = (auth.create_user(ctx.db, n, f"{n}-password").id for n in ("ann", "bob"))
    for item in ids[:2]:
        submit(ctx, ann, item, {"label": "a"})
        submit(ctx, bob, item, {"label": "b"})
    _insert(ctx.db, NEWEST, pid, ann, ids[2], {"label": "a"})
    return Scenario(
        view=lambda: agreement.project_agreement(ctx.db, pid),
        fresh=lambda: agreement._compute(ctx.db, pid, "classify"),
        add_late=lambda: _insert(ctx.db, LATE, pid, bob, ids[2], {"label": "a"}),
        changed=lambda before, after: (before.items, after.items) == (2, 3),
    )


def _box_quality(ctx: AppContext, media: MediaStore) -> Scenario:
    db = ctx.db
    user, pid = boxes_project(db)
    other = auth.create_user(db, "bob", "bob-password").id
    projects_row_overlap(db, pid, 2)
    face = {"x": 10, "y": 10, "w": 100, "h": 100, "label": "face"}
    images = [add(db, media, pid, user, png((400, 400 + i)), f"{i}.png") for i in range(2)]
    for n, image in enumerate(images):
        _insert(db, NEWEST - 2 + n, pid, user, image, {"boxes": [face]})
    _insert(db, NEWEST, pid, other, images[0], {"boxes": [face]})
    return Scenario(
        view=lambda: boxes.box_quality(db, pid),
        fresh=lambda: boxes._compute_quality(db, pid, 0.5),
        add_late=lambda: _insert(db, LATE, pid, other, images[1], {"boxes": [face]}),
        changed=lambda before, after: (before["people"]["pairs"], after["people"]["pairs"]) == (1, 2),
    )


def _label_errors(ctx: AppContext, media: MediaStore) -> Scenario:
    alice, rita, bob = (auth.create_user(ctx.db, n, f"{n}-password").id for n in ("alice", "rita", "bob"))
    pid, flipped = flipped_topics(ctx, rita, alice)
    with ctx.db.read() as s:
        pets = list(s.scalars(select(Item.id).where(Item.project_id == pid).order_by(Item.id)))[:15]
    doubted = flipped | {item for item, _ in label_error_queue._rank(ctx.db, media, pid).ranked}
    # Two pets texts no one doubts: one gets rita's agreeing answer (the newest), the other
    # two late "finance" answers, which outvote alice's "pets".
    agreed, outvoted = [item for item in pets if item not in doubted][:2]
    _insert(ctx.db, NEWEST, pid, rita, agreed, {"label": "pets"})

    def add_late() -> None:
        _insert(ctx.db, LATE, pid, rita, outvoted, {"label": "finance"})
        _insert(ctx.db, LATE + 1, pid, bob, outvoted, {"label": "finance"})

    def queue() -> Any:
        return label_error_queue.label_error_queue(ctx.db, media, pid, limit=50)

    return Scenario(
        view=queue,
        fresh=lambda: label_error_queue._rank(ctx.db, media, pid),
        add_late=add_late,
        changed=lambda before, after: (
            outvoted not in {e.item.id for e in before.entries}
            and outvoted in {e.item.id for e in after.entries}
        ),
    )


CASES: dict[str, tuple[Callable[[AppContext, MediaStore], Scenario], Any, str, str]] = {
    # name: (scenario, module, its cache, its computation)
    "agreement": (_agreement, agreement, "_CACHE", "_compute"),
    "box-quality": (_box_quality, boxes, "_QUALITY_CACHE", "_compute_quality"),
    "label-errors": (_label_errors, label_error_queue, "_CACHE", "_rank"),
}


@pytest.mark.parametrize("name", list(CASES))
def test_a_late_answer_is_in_the_result_once_the_state_settles(
    name: str, ctx: AppContext, media: MediaStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    make, module, cache_name, compute_name = CASES[name]
    cache: StateCache[Any] = getattr(module, cache_name)
    clock = Clock()
    monkeypatch.setattr(cache, "clock", clock)
    scenario = make(ctx, media)
    computed: list[int] = []
    real = getattr(module, compute_name)

    def counting(*args: Any) -> Any:
        computed.append(1)
        return real(*args)

    monkeypatch.setattr(module, compute_name, counting)
    try:
        first = scenario.view()
        scenario.add_late()  # the newest answer id, the state, stays NEWEST
        clock.now += 1
        assert scenario.view() == first and len(computed) == 1  # (the one-short window)
        clock.now += cache.settle_s
        settled = scenario.view()
        assert len(computed) == 2
        assert scenario.changed(first, settled)
        clock.now += 3600  # settled: kept for good while the state holds
        for _ in range(3):
            assert scenario.view() == settled
        assert len(computed) == 2
        kept = cache.find(ctx.db, next(iter(cache._kept[ctx.db])))
        assert kept is not None and kept.settled and kept.value == scenario.fresh()  # = from scratch
    finally:
        cache.clear()
