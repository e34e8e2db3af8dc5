"""Gold items: marked by managers, mixed unmarked into queues, scored, and pausing people."""

from __future__ import annotations

import random
import uuid

import pytest
from sqlalchemy import func, select

from hitloop.db.engine import Database
from hitloop.db.tables import Event, Item
from hitloop.errors import InputError, NotFoundError, PermissionDeniedError
from hitloop.schemas import AnnotationIn, GoldMark, ItemIn, ProjectCreate, TeamSettingsUpdate
from hitloop.services import annotations, auth, gold, items, members, projects, queue, team
from hitloop.services.items import ItemLimits
from hitloop.types import Role


@pytest.fixture
def setup(db: Database) -> tuple[int, list[int], list[int]]:
    owner = auth.create_user(db, "owner", "owner-password")
    pid = projects.create_project(db, owner.id, ProjectCreate(name="p", labels=["a", "b"])).id
    texts = [ItemIn(text=f"t{i}", external_id=f"e{i}") for i in range(10)]
    ids = items.add_items(db, pid, owner.id, texts, ItemLimits())
    users = []
    for name in ("ann", "bob"):
        users.append(auth.create_user(db, name, f"{name}-password").id)
        members.add_member(db, None, pid, name, Role.ANNOTATOR)
    return pid, ids, users


def _answer(db: Database, user: int, item: int, label: str) -> None:
    annotations.submit(db, user, item, AnnotationIn(value={"label": label}, client_key=uuid.uuid4().hex))


def test_gold_items_are_served_to_everyone_once_and_look_ordinary(
    db: Database, setup: tuple[int, list[int], list[int]]
) -> None:
    pid, ids, (ann, bob) = setup
    marks = [GoldMark(item_id=ids[0], value={"label": "a"}), GoldMark(external_id="e1", value={"label": "b"})]
    assert gold.mark_gold(db, None, pid, marks) == 2
    team.update_team_settings(db, None, pid, TeamSettingsUpdate(gold_rate=1.0))
    for user in (ann, bob):
        got = queue.next_items(db, pid, user, count=2, rng=random.Random(0))
        assert {i.id for i in got} == {ids[0], ids[1]}
        assert {i.state for i in got} == {"leased"}
        assert all("gold" not in i.model_dump() for i in got)
        for item in got:
            _answer(db, user, item.id, "a")
        # Gold exhausted for this person: regular items fill the queue.
        assert {i.id for i in queue.next_items(db, pid, user, count=1)} <= set(ids[2:])
    listed = {g.item_id: (g.answers, g.correct) for g in gold.list_gold(db, pid)}
    assert listed == {ids[0]: (2, 2), ids[1]: (2, 0)}
    assert projects.get_project(db, pid, with_stats=True).stats.total == 8  # type: ignore[union-attr]


def test_gold_rate_mixes_in_about_the_configured_share(
    db: Database, setup: tuple[int, list[int], list[int]]
) -> None:
    pid, ids, (ann, _bob) = setup
    gold.mark_gold(db, None, pid, [GoldMark(item_id=i, value={"label": "a"}) for i in ids[:5]])
    team.update_team_settings(db, None, pid, TeamSettingsUpdate(gold_rate=0.5))
    rng = random.Random(7)
    served = []
    for _ in range(6):
        for item in queue.next_items(db, pid, ann, count=1, rng=rng):
            served.append(item.id in ids[:5])
            _answer(db, ann, item.id, "a")
    assert 1 <= sum(served) <= 5 and len(served) == 6


def test_low_gold_accuracy_pauses_until_a_manager_unpauses(
    db: Database, setup: tuple[int, list[int], list[int]]
) -> None:
    pid, ids, (ann, bob) = setup
    gold.mark_gold(db, None, pid, [GoldMark(item_id=i, value={"label": "a"}) for i in ids[:4]])
    team.update_team_settings(
        db, None, pid, TeamSettingsUpdate(gold_rate=1.0, gold_min_answers=3, gold_pause_below=0.5)
    )
    for label in ("b", "b", "a"):  # 1 of 3 right
        [item] = queue.next_items(db, pid, ann, count=1)
        _answer(db, ann, item.id, label)
    with pytest.raises(PermissionDeniedError, match=r"paused .*1 of 3 \(33%\) is below 50%"):
        queue.next_items(db, pid, ann, count=1)
    accuracy = {a.username: a for a in gold.accuracy(db, pid)}
    assert (accuracy["ann"].answers, accuracy["ann"].correct, accuracy["ann"].paused) == (3, 1, True)
    assert accuracy["bob"].answers == 0 and accuracy["bob"].accuracy is None
    assert queue.next_items(db, pid, bob, count=1)  # others keep working
    with db.read() as s:
        assert s.scalar(select(func.count()).where(Event.action == "member.pause")) == 1
    members.update_member(db, None, pid, ann, paused=False)
    assert queue.next_items(db, pid, ann, count=1)  # a fresh start: old gold answers no longer count


@pytest.mark.parametrize(
    ("mark", "error", "field"),
    [
        (GoldMark(item_id=1, value={"label": "zzz"}), InputError, "items[0].value.label"),
        (GoldMark(item_id=999, value={"label": "a"}), NotFoundError, "items[0].item_id"),
        (GoldMark(external_id="nope", value={"label": "a"}), NotFoundError, "items[0].external_id"),
        (GoldMark(value={"label": "a"}), InputError, "items[0]"),
        (GoldMark(item_id=1, external_id="e1", value={"label": "a"}), InputError, "items[0]"),
    ],
    ids=["unknown-label", "unknown-item", "unknown-external-id", "no-id", "two-ids"],
)
def test_bad_gold_marks_change_nothing(
    db: Database, setup: tuple[int, list[int], list[int]], mark: GoldMark, error: type[Exception], field: str
) -> None:
    pid, ids, _ = setup
    good = GoldMark(item_id=ids[3], value={"label": "a"})
    with pytest.raises(error) as info:
        gold.mark_gold(db, None, pid, [mark, good] if field.startswith("items[0]") else [mark])
    assert getattr(info.value, "field", None) == field
    with db.read() as s:
        assert s.scalar(select(func.count()).where(Item.gold.is_not(None))) == 0


def test_unmarking_returns_an_item_to_the_queue(
    db: Database, setup: tuple[int, list[int], list[int]]
) -> None:
    pid, ids, (ann, _bob) = setup
    gold.mark_gold(db, None, pid, [GoldMark(item_id=ids[0], value={"label": "a"})])
    assert ids[0] not in {i.id for i in queue.next_items(db, pid, ann, count=8)}
    assert gold.unmark_gold(db, None, pid, [ids[0]]) == 1
    with pytest.raises(NotFoundError, match="not a gold item"):
        gold.unmark_gold(db, None, pid, [ids[0]])
    with db.read() as s:
        assert s.scalar(select(Item.state).where(Item.id == ids[0])) == "open"
