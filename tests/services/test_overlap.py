"""Overlap k: k distinct people answer each item, breadth-first, never the same person twice."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter

import pytest
from sqlalchemy import select, update

from hitloop.db.engine import Database
from hitloop.db.tables import Annotation, Item, Lease
from hitloop.errors import ConflictError
from hitloop.schemas import AnnotationIn, ItemIn, ProjectCreate, TeamSettingsUpdate
from hitloop.services import annotations, auth, items, projects, queue, team
from hitloop.services.items import ItemLimits


def _project(db: Database, n_items: int, **settings: object) -> tuple[int, list[int]]:
    owner = auth.create_user(db, "owner", "owner-password")
    pid = projects.create_project(db, owner.id, ProjectCreate(name="p", labels=["a", "b"])).id
    ids = items.add_items(db, pid, owner.id, [ItemIn(text=f"t{i}") for i in range(n_items)], ItemLimits())
    team.update_team_settings(db, owner.id, pid, TeamSettingsUpdate(**settings))  # type: ignore[arg-type]
    return pid, ids


def _users(db: Database, n: int) -> list[int]:
    return [auth.create_user(db, f"u{i}", "user-password").id for i in range(n)]


def _answer(db: Database, user: int, item: int, label: str = "a", *, skip: bool = False) -> None:
    body = AnnotationIn(value=None if skip else {"label": label}, skip=skip, client_key=uuid.uuid4().hex)
    annotations.submit(db, user, item, body)


def _state(db: Database, item: int) -> str:
    with db.read() as s:
        return str(s.scalar(select(Item.state).where(Item.id == item)))


def test_k_people_share_an_item_and_then_it_is_done(db: Database) -> None:
    pid, _ids = _project(db, 3, overlap=2)
    a, b, c = _users(db, 3)
    first = queue.next_items(db, pid, a, count=1)[0].id
    # Breadth-first: the second person joins the started item rather than a fresh one.
    assert queue.next_items(db, pid, b, count=1)[0].id == first
    assert _state(db, first) == "leased"  # both slots taken
    assert first not in {i.id for i in queue.next_items(db, pid, c, count=3)}
    _answer(db, a, first)
    assert _state(db, first) == "leased"
    _answer(db, b, first, "b")
    assert _state(db, first) == "done"
    with pytest.raises(ConflictError, match="all the answers"):
        _answer(db, c, first)


def test_nobody_gets_an_item_twice_and_started_items_come_first(db: Database) -> None:
    pid, ids = _project(db, 4, overlap=3)
    a, b = _users(db, 2)
    with db.write() as s:  # the last item has the highest priority
        s.execute(update(Item).where(Item.id == ids[-1]).values(priority=5.0))
    got = [i.id for i in queue.next_items(db, pid, a, count=2)]
    assert got[0] == ids[-1]
    _answer(db, a, got[0])
    _answer(db, a, got[1])
    # b is served the two items a started, before any fresh one, though a fresh one has priority 0 too.
    assert [i.id for i in queue.next_items(db, pid, b, count=2)] == got
    again = {i.id for i in queue.next_items(db, pid, a, count=8, have=got)}
    assert again.isdisjoint(got)


def test_a_skip_or_an_expired_lease_frees_the_slot(db: Database) -> None:
    pid, [item] = _project(db, 1, overlap=2)
    a, b, c, d = _users(db, 4)
    queue.next_items(db, pid, a, count=1, now=1000.0, lease_seconds=60)
    queue.next_items(db, pid, b, count=1, now=1000.0, lease_seconds=60)
    assert queue.next_items(db, pid, c, count=1, now=1001.0) == []
    _answer(db, a, item, skip=True)
    assert [i.id for i in queue.next_items(db, pid, c, count=1, now=1002.0)] == [item]
    assert queue.next_items(db, pid, d, count=1, now=1003.0) == []
    # b's and c's holds run out: d gets the item (the sweep runs at most once a second).
    assert [i.id for i in queue.next_items(db, pid, d, count=1, now=2000.0)] == [item]


def test_an_answer_without_a_lease_is_refused_when_every_slot_is_taken(db: Database) -> None:
    pid, [item] = _project(db, 1, overlap=2)
    a, b, c = _users(db, 3)
    queue.next_items(db, pid, a, count=1)
    queue.next_items(db, pid, b, count=1)
    with pytest.raises(ConflictError, match="reserved by other annotators"):
        _answer(db, c, item)
    _answer(db, a, item)
    _answer(db, a, item, "b")  # editing one's own answer is always allowed
    with db.read() as s:
        assert s.scalar(select(Item.n_answers).where(Item.id == item)) == 1


@pytest.mark.parametrize(
    ("labels", "expected"),
    [(["a", "a"], 2), (["a", "b", "a"], 3), (["a", "b", "b", "a"], 3)],
    ids=["agree-at-k", "third-breaks-tie", "stops-at-max"],
)
def test_adaptive_overlap_asks_more_people_only_while_answers_disagree(
    db: Database, labels: list[str], expected: int
) -> None:
    pid, [item] = _project(db, 1, overlap=2, overlap_max=3)
    users = _users(db, 4)
    answered = 0
    for user, label in zip(users, labels, strict=False):
        got = queue.next_items(db, pid, user, count=1)
        if not got:
            break
        _answer(db, user, item, label)
        answered += 1
    assert answered == expected
    assert _state(db, item) == "done"


def test_changing_the_overlap_returns_holds_and_reopens_items(db: Database) -> None:
    pid, ids = _project(db, 2)
    a, b = _users(db, 2)
    first = queue.next_items(db, pid, a, count=1)[0].id
    _answer(db, a, first)
    queue.next_items(db, pid, a, count=1)
    assert _state(db, first) == "done"
    team.update_team_settings(db, None, pid, TeamSettingsUpdate(overlap=2))
    assert _state(db, first) == "partial"
    assert {_state(db, i) for i in ids if i != first} == {"open"}
    assert [i.id for i in queue.next_items(db, pid, b, count=1)] == [first]


def test_threaded_annotators_never_exceed_k_nor_answer_twice(db: Database) -> None:
    k, n_items, n_users = 3, 30, 6
    pid, ids = _project(db, n_items, overlap=k)
    users = _users(db, n_users)
    errors: list[str] = []

    def work(user: int) -> None:
        # An empty answer can be momentary (on PostgreSQL the seek skips items another
        # submit holds locked): like the labeling page, look again a few times.
        empty = 0
        for _ in range(n_items * 4):
            got = queue.next_items(db, pid, user, count=2)
            if not got:
                empty += 1
                if empty == 10:
                    return
                time.sleep(0.05)
                continue
            empty = 0
            for item in got:
                try:
                    _answer(db, user, item.id, "ab"[item.id % 2])
                except Exception as exc:  # collected and asserted below
                    errors.append(f"{user} {item.id}: {exc!r}")

    threads = [threading.Thread(target=work, args=(u,)) for u in users]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    with db.read() as s:
        rows = s.execute(select(Annotation.item_id, Annotation.user_id)).all()
        states = Counter(s.scalars(select(Item.state)))
        leases = s.scalar(select(Lease.item_id).limit(1))
    assert len(rows) == len(set(rows)), "someone answered an item twice"
    per_item = Counter(item for item, _ in rows)
    assert per_item == {i: k for i in ids}
    assert states == {"done": n_items}
    assert leases is None
