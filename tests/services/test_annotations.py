"""Submits: validation, idempotency, editing keeps history."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from hitloop.db.engine import Database
from hitloop.db.tables import Annotation, Item
from hitloop.errors import ConflictError, InputError, NotFoundError
from hitloop.schemas import AnnotationIn, ItemIn, ProjectCreate
from hitloop.services import annotations, auth, items, projects, queue
from hitloop.services.items import ItemLimits
from hitloop.types import TaskType


def _setup(db: Database, task: TaskType = TaskType.CLASSIFY) -> tuple[int, int, list[int]]:
    user = auth.create_user(db, "ann", "ann-password").id
    p = projects.create_project(db, user, ProjectCreate(name="p", task=task, labels=["cat", "dog", "bird"]))
    ids = items.add_items(db, p.id, user, [ItemIn(text=f"t{i}") for i in range(3)], ItemLimits())
    return user, p.id, ids


def _count(db: Database, *where: object) -> int:
    with db.read() as s:
        return int(s.scalar(select(func.count()).select_from(Annotation).where(*where)) or 0)


def test_retried_submit_returns_the_first_result(db: Database) -> None:
    user, _, ids = _setup(db)
    body = AnnotationIn(value={"label": "cat"}, client_key="retry-key-1")
    first = annotations.submit(db, user, ids[0], body)
    again = annotations.submit(db, user, ids[0], body)
    assert again.id == first.id and again.replayed and not first.replayed
    assert _count(db) == 1


def test_a_client_key_belongs_to_one_item(db: Database) -> None:
    user, _, ids = _setup(db)
    annotations.submit(db, user, ids[0], AnnotationIn(value={"label": "cat"}, client_key="same-key-1"))
    with pytest.raises(ConflictError, match="client_key"):
        annotations.submit(db, user, ids[1], AnnotationIn(value={"label": "cat"}, client_key="same-key-1"))


def test_editing_supersedes_and_keeps_history(db: Database) -> None:
    user, pid, ids = _setup(db)
    old = annotations.submit(db, user, ids[0], AnnotationIn(value={"label": "cat"}, client_key="edit-key-1"))
    new = annotations.submit(db, user, ids[0], AnnotationIn(value={"label": "dog"}, client_key="edit-key-2"))
    with db.read() as s:
        rows = {a.id: a for a in s.scalars(select(Annotation))}
        item = s.get(Item, ids[0])
    assert rows[old.id].superseded_by == new.id
    assert rows[new.id].superseded_by is None and rows[new.id].label == "dog"
    assert item is not None and item.n_answers == 1 and item.state == "done"
    stats = projects.project_stats(db, pid)
    assert stats.distribution == {"cat": 0, "dog": 1, "bird": 0}
    assert stats.labeled == 1 and stats.annotations == 1
    hist = annotations.history(db, pid, user)
    assert [h["annotation"].id for h in hist] == [new.id]


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ({"label": "horse"}, "value.label"),
        ({"label": 3}, "value.label"),
        ({"labels": ["cat"]}, "value"),
        ({"label": "cat", "extra": 1}, "value"),
    ],
    ids=["unknown-label", "wrong-type", "wrong-shape", "extra-key"],
)
def test_bad_values_are_refused_and_change_nothing(db: Database, value: dict, field: str) -> None:
    user, _, ids = _setup(db)
    with pytest.raises(InputError) as err:
        annotations.submit(db, user, ids[0], AnnotationIn(value=value, client_key="bad-value-1"))
    assert err.value.field == field
    assert _count(db) == 0
    with db.read() as s:
        assert s.get(Item, ids[0]).state == "open"  # type: ignore[union-attr]


def test_multilabel_values_are_normalized(db: Database) -> None:
    user, pid, ids = _setup(db, TaskType.MULTILABEL)
    out = annotations.submit(
        db, user, ids[0], AnnotationIn(value={"labels": ["bird", "cat"]}, client_key="multi-key-1")
    )
    assert out.value == {"labels": ["cat", "bird"]}
    annotations.submit(db, user, ids[1], AnnotationIn(value={"labels": []}, client_key="multi-key-2"))
    assert projects.project_stats(db, pid).distribution == {"cat": 1, "dog": 0, "bird": 1}
    with pytest.raises(InputError):
        annotations.submit(
            db, user, ids[2], AnnotationIn(value={"labels": ["cat", "cat"]}, client_key="multi-key-3")
        )


def test_answer_without_value_or_with_value_and_skip(db: Database) -> None:
    user, _, ids = _setup(db)
    with pytest.raises(InputError, match="needs a value"):
        annotations.submit(db, user, ids[0], AnnotationIn(client_key="no-value-1"))
    with pytest.raises(InputError, match="no value"):
        annotations.submit(
            db, user, ids[0], AnnotationIn(value={"label": "cat"}, skip=True, client_key="no-value-2")
        )


def test_done_items_take_no_new_answers(db: Database) -> None:
    user, _, ids = _setup(db)
    other = auth.create_user(db, "other", "other-password").id
    annotations.submit(db, user, ids[0], AnnotationIn(value={"label": "cat"}, client_key="done-key-1"))
    with pytest.raises(ConflictError, match="all the answers"):
        annotations.submit(db, other, ids[0], AnnotationIn(value={"label": "dog"}, client_key="done-key-2"))


def test_unknown_item(db: Database) -> None:
    user, _, _ = _setup(db)
    with pytest.raises(NotFoundError):
        annotations.submit(db, user, 12345, AnnotationIn(value={"label": "cat"}, client_key="nope-key-1"))


def test_submitting_releases_the_lease(db: Database) -> None:
    user, pid, _ = _setup(db)
    item = queue.next_items(db, pid, user, count=1)[0]
    annotations.submit(db, user, item.id, AnnotationIn(value={"label": "cat"}, client_key="lease-key-1"))
    with db.read() as s:
        row = s.get(Item, item.id)
    assert row is not None and row.state == "done" and row.leased_by is None


def test_export_rows_hold_current_answers_only(db: Database) -> None:
    user, pid, ids = _setup(db)
    annotations.submit(db, user, ids[0], AnnotationIn(value={"label": "cat"}, client_key="exp-key-1"))
    annotations.submit(db, user, ids[0], AnnotationIn(value={"label": "dog"}, client_key="exp-key-2"))
    annotations.submit(db, user, ids[1], AnnotationIn(skip=True, client_key="exp-key-3"))
    rows = list(annotations.iter_export_rows(db, pid))
    assert [(r["item_id"], r["label"], r["annotator"]) for r in rows] == [(ids[0], "dog", "ann")]
    with_skips = list(annotations.iter_export_rows(db, pid, include_skipped=True))
    assert len(with_skips) == 2
