"""The labeling queue: leases, expiry, ordering, and never serving twice."""

from __future__ import annotations

import pytest

from hitloop.db.engine import Database
from hitloop.db.tables import Suggestion
from hitloop.errors import ConflictError, NotFoundError
from hitloop.schemas import AnnotationIn, ItemIn, ProjectCreate
from hitloop.services import annotations, auth, items, projects, queue
from hitloop.services.items import ItemLimits


@pytest.fixture
def project(db: Database) -> int:
    owner = auth.create_user(db, "owner", "owner-password")
    p = projects.create_project(db, owner.id, ProjectCreate(name="p", labels=["a", "b"]))
    items.add_items(db, p.id, owner.id, [ItemIn(text=f"item {i}") for i in range(10)], ItemLimits())
    return p.id


@pytest.fixture
def users(db: Database) -> list[int]:
    return [auth.create_user(db, f"user{i}", "user-password").id for i in range(3)]


def _answer(db: Database, user: int, item: int, label: str = "a", key: str | None = None) -> None:
    annotations.submit(
        db, user, item, AnnotationIn(value={"label": label}, client_key=key or f"k{user}x{item}xxxxx")
    )


def test_next_serves_in_priority_then_id_order(db: Database, project: int, users: list[int]) -> None:
    got = queue.next_items(db, project, users[0], count=3)
    assert [i.text for i in got] == ["item 0", "item 1", "item 2"]
    assert all(i.state == "leased" and i.lease_until is not None for i in got)


def test_leased_items_are_not_served_to_someone_else(db: Database, project: int, users: list[int]) -> None:
    first = {i.id for i in queue.next_items(db, project, users[0], count=4)}
    second = {i.id for i in queue.next_items(db, project, users[1], count=4)}
    assert first.isdisjoint(second)


def test_reload_returns_the_items_a_user_already_holds(db: Database, project: int, users: list[int]) -> None:
    held = [i.id for i in queue.next_items(db, project, users[0], count=2)]
    again = [i.id for i in queue.next_items(db, project, users[0], count=2)]
    assert again == held
    # Items the client says it already shows are not repeated.
    more = [i.id for i in queue.next_items(db, project, users[0], count=2, have=held)]
    assert set(more).isdisjoint(held)


def test_a_user_never_holds_more_than_max_leases(db: Database, project: int, users: list[int]) -> None:
    got = queue.next_items(db, project, users[0], count=10, max_leases=4)
    assert len(got) == 4
    more = queue.next_items(db, project, users[0], count=10, max_leases=4, have=[i.id for i in got])
    assert more == []


def test_expired_leases_return_to_the_queue(db: Database, project: int, users: list[int]) -> None:
    t0 = 1_000_000.0
    taken = queue.next_items(db, project, users[0], count=10, max_leases=10, lease_seconds=60, now=t0)
    assert len(taken) == 10
    assert queue.next_items(db, project, users[1], count=1, now=t0 + 30) == []
    db.memo.clear()  # forget when we last swept
    back = queue.next_items(db, project, users[1], count=10, max_leases=10, now=t0 + 61)
    assert len(back) == 10


def test_answered_items_are_never_served_again(db: Database, project: int, users: list[int]) -> None:
    seen: set[int] = set()
    for _ in range(10):
        got = queue.next_items(db, project, users[0], count=1)
        if not got:
            break
        assert got[0].id not in seen
        seen.add(got[0].id)
        _answer(db, users[0], got[0].id)
    assert len(seen) == 10
    assert queue.next_items(db, project, users[1], count=5) == []


def test_skipped_item_goes_to_someone_else_not_back_to_the_skipper(
    db: Database, project: int, users: list[int]
) -> None:
    item = queue.next_items(db, project, users[0], count=1)[0]
    annotations.submit(db, users[0], item.id, AnnotationIn(skip=True, client_key="skip-key-1"))
    for _ in range(9):
        got = queue.next_items(db, project, users[0], count=1)
        assert got and got[0].id != item.id
        _answer(db, users[0], got[0].id)
    assert queue.next_items(db, project, users[0], count=1) == []
    assert [i.id for i in queue.next_items(db, project, users[1], count=1)] == [item.id]


def test_release_gives_items_back(db: Database, project: int, users: list[int]) -> None:
    taken = queue.next_items(db, project, users[0], count=2)
    assert queue.release_items(db, project, users[1], [i.id for i in taken]) == 0  # not theirs
    assert queue.release_items(db, project, users[0], [i.id for i in taken]) == 2
    assert {i.id for i in queue.next_items(db, project, users[1], count=2)} == {i.id for i in taken}


def test_unknown_project(db: Database, users: list[int]) -> None:
    with pytest.raises(NotFoundError):
        queue.next_items(db, 999, users[0])


def test_submit_on_an_item_leased_by_someone_else_is_a_conflict(
    db: Database, project: int, users: list[int]
) -> None:
    item = queue.next_items(db, project, users[0], count=1)[0]
    with pytest.raises(ConflictError, match="reserved"):
        _answer(db, users[1], item.id)


def test_served_items_carry_their_suggestion_fresh_and_held(
    db: Database, project: int, users: list[int]
) -> None:
    first = queue.next_items(db, project, users[0], count=3)
    with db.write() as s:
        s.add(
            Suggestion(
                item_id=first[1].id,
                project_id=project,
                model_version_id=None,
                value={"label": "b"},
                label="b",
                confidence=0.75,
                explanation={"words": ["w"]},
                created_at=0.0,
            )
        )
    # Held items (a reload) and a freshly leased one both come with what the model said.
    again = queue.next_items(db, project, users[0], count=3)
    assert [i.id for i in again] == [i.id for i in first]
    assert [i.suggestion is not None for i in again] == [False, True, False]
    held = again[1].suggestion
    assert held is not None and held.value == {"label": "b"} and held.confidence == 0.75
    assert held.explanation == {"words": ["w"]}
    with db.write() as s:
        s.add(
            Suggestion(
                item_id=first[2].id + 1,
                project_id=project,
                value={"label": "a"},
                label="a",
                confidence=0.5,
                created_at=0.0,
            )
        )
    fresh = queue.next_items(db, project, users[0], count=1, have=[i.id for i in first])
    assert fresh[0].id == first[2].id + 1
    assert fresh[0].suggestion is not None and fresh[0].suggestion.label == "a"
    assert fresh[0].suggestion.explanation is None


def test_expired_leases_of_ones_own_are_swept_then_leased_afresh(
    db: Database, project: int, users: list[int]
) -> None:
    got = queue.next_items(db, project, users[0], count=2, max_leases=2, lease_seconds=10, now=1000.0)
    # Past the lease, the sweep puts both back in the queue; they no longer count as held,
    # so there is room to lease them again (the queue's first two items).
    again = queue.next_items(db, project, users[0], count=2, max_leases=2, lease_seconds=10, now=2000.0)
    assert [i.id for i in again] == [i.id for i in got]
    assert all(i.lease_until is not None and i.lease_until.timestamp() == 2010.0 for i in again)
    assert queue.next_items(db, project, users[1], count=2, now=2000.5)[0].id not in {i.id for i in got}
