"""Review: accept, fix or reject people's answers, and the queues a reviewer works through.

Nothing a reviewer does overwrites an answer:

- **accept** marks the answer ``review = 'accepted'``;
- **fix** adds the reviewer's own answer to the item, which supersedes the
  original (``superseded_by`` points at it, ``review = 'fixed'``); the new row's
  ``shown`` records which answer it replaced and its value;
- **reject** withdraws the answer (``review = 'rejected'``, ``superseded_by`` set
  to its own id, so it no longer counts anywhere) and the item goes back to the
  queue for someone else's answer (never the same person's).

Each decision is an event in the audit log. Queues: ``pending`` (answers nobody
has reviewed yet, oldest first), ``disagreement`` (items whose current answers
differ, least agreement first) and ``label-errors`` (confident learning, see
:mod:`hitloop.services.label_error_queue`).
"""

from __future__ import annotations

import json
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, get_args

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hitloop.db.engine import Database
from hitloop.db.sql import json_out
from hitloop.db.tables import Annotation, Item, Project, User
from hitloop.errors import ConflictError, InputError, NotFoundError, PermissionDeniedError
from hitloop.schemas import (
    AnchoringGroup,
    AnchoringOut,
    ReviewAnswer,
    ReviewDecision,
    ReviewEntry,
    ReviewQueue,
    ReviewResult,
)
from hitloop.services.audit import record_event
from hitloop.services.item_view import items_for
from hitloop.types import ItemState, TaskType, validate_value

if TYPE_CHECKING:
    from hitloop.media.store import MediaStore

__all__ = [
    "QUEUES",
    "QueueName",
    "anchoring",
    "annotation_project",
    "answers_of_items",
    "disagreement_queue",
    "pending_queue",
    "review_annotation",
    "review_entries",
    "review_queue",
]

QueueName = Literal["pending", "disagreement", "label-errors"]
QUEUES: tuple[QueueName, ...] = get_args(QueueName)
ACCEPTED, REJECTED, FIXED = "accepted", "rejected", "fixed"


def annotation_project(db: Database, annotation_id: int) -> int:
    """The project an annotation belongs to (for the permission check before a decision)."""
    with db.read() as s:
        project_id = s.scalar(select(Annotation.project_id).where(Annotation.id == annotation_id))
    if project_id is None:
        raise NotFoundError(f"annotation {annotation_id} not found", field="annotation_id")
    return int(project_id)


def _current(project_id: int) -> Any:
    return (
        (Annotation.project_id == project_id)
        & Annotation.superseded_by.is_(None)
        & Annotation.skipped.is_(False)
    )


def _answer(row: Any, names: dict[int, str]) -> ReviewAnswer:
    return ReviewAnswer(
        id=row.id,
        user_id=row.user_id,
        username=names.get(row.user_id, str(row.user_id)),
        value=json_out(row.value),
        seconds=row.seconds,
        created_at=row.created_at,
        review=row.review,
    )


def answers_of_items(s: Session, project_id: int, item_ids: list[int]) -> dict[int, list[ReviewAnswer]]:
    """The current answers of these items, oldest first, keyed by item."""
    if not item_ids:
        return {}
    rows = s.execute(
        select(
            Annotation.id,
            Annotation.item_id,
            Annotation.user_id,
            Annotation.value,
            Annotation.seconds,
            Annotation.created_at,
            Annotation.review,
        )
        .where(_current(project_id), Annotation.item_id.in_(item_ids))
        .order_by(Annotation.id)
    ).all()
    users = {r.user_id for r in rows}
    names = dict(s.execute(select(User.id, User.username).where(User.id.in_(users))).tuples().all())
    out: dict[int, list[ReviewAnswer]] = defaultdict(list)
    for r in rows:
        out[r.item_id].append(_answer(r, names))
    return out


def review_entries(
    s: Session, project_id: int, ranked: Sequence[tuple[int, float | None]]
) -> list[ReviewEntry]:
    ids = [i for i, _ in ranked]
    # Reviewers may not tell gold items apart: every queue shows a gold item as a regular one.
    items = items_for(s, ids, None, sees_gold=False)
    answers = answers_of_items(s, project_id, ids)
    return [
        ReviewEntry(item=items[i], answers=answers.get(i, []), score=score)
        for i, score in ranked
        if i in items
    ]


def pending_queue(
    db: Database, project_id: int, reviewer_id: int, *, limit: int = 20, offset: int = 0
) -> ReviewQueue:
    """Items with answers nobody has reviewed yet (other than the reviewer's own), oldest answer first."""
    waiting = select(Annotation.item_id, func.min(Annotation.id).label("first")).where(
        _current(project_id), Annotation.review.is_(None), Annotation.user_id != reviewer_id
    )
    with db.read() as s:
        _require_project(s, project_id)
        grouped = waiting.group_by(Annotation.item_id).subquery()
        total = s.scalar(select(func.count()).select_from(grouped)) or 0
        ids = s.scalars(select(grouped.c.item_id).order_by(grouped.c.first).limit(limit).offset(offset)).all()
        entries = review_entries(s, project_id, [(int(i), None) for i in ids])
    return ReviewQueue(queue="pending", total=total, entries=entries)


def _key(value: Any) -> str:
    return json.dumps(json_out(value), sort_keys=True)


def review_queue(
    db: Database,
    media: MediaStore,
    project_id: int,
    queue: QueueName,
    reviewer_id: int,
    *,
    limit: int = 20,
    offset: int = 0,
) -> ReviewQueue:
    """One page of the named queue (the review API and the review page)."""
    if queue == "pending":
        return pending_queue(db, project_id, reviewer_id, limit=limit, offset=offset)
    if queue == "disagreement":
        return disagreement_queue(db, project_id, limit=limit, offset=offset)
    # That module imports this one (review_entries), and scikit-learn.
    from hitloop.services.label_error_queue import label_error_queue

    return label_error_queue(db, media, project_id, limit=limit, offset=offset)


def disagreement_queue(db: Database, project_id: int, *, limit: int = 20, offset: int = 0) -> ReviewQueue:
    """Items whose current answers differ, ranked by the share of the most common answer (lowest first)."""
    with db.read() as s:
        _require_project(s, project_id)
        rows = s.execute(
            select(Annotation.item_id, Annotation.value).where(_current(project_id)).order_by(Annotation.id)
        ).all()
        by_item: dict[int, Counter[str]] = defaultdict(Counter)
        for r in rows:
            by_item[r.item_id][_key(r.value)] += 1
        ranked = sorted(
            (
                (item, c.most_common(1)[0][1] / c.total())
                for item, c in by_item.items()
                if len(c) > 1  # at least two different answers
            ),
            key=lambda pair: (pair[1], pair[0]),
        )
        entries = review_entries(s, project_id, ranked[offset : offset + limit])
    return ReviewQueue(queue="disagreement", total=len(ranked), entries=entries)


def _require_project(s: Session, project_id: int) -> Project:
    project = s.get(Project, project_id)
    if project is None:
        raise NotFoundError(f"project {project_id} not found", field="project_id")
    return project


def review_annotation(
    db: Database, reviewer_id: int, annotation_id: int, decision: ReviewDecision, *, now: float | None = None
) -> ReviewResult:
    """Apply one reviewer decision in one transaction (the item row is locked first)."""
    now = time.time() if now is None else now
    if decision.action != "fix" and decision.value is not None:
        raise InputError(f"{decision.action} takes no value (only fix does)", field="value")
    with db.write() as s:
        item_id = s.scalar(select(Annotation.item_id).where(Annotation.id == annotation_id))
        if item_id is None:
            raise NotFoundError(f"annotation {annotation_id} not found", field="annotation_id")
        item = s.execute(select(Item).where(Item.id == item_id).with_for_update()).scalar_one()
        row = s.execute(select(Annotation).where(Annotation.id == annotation_id)).scalar_one()
        if row.superseded_by is not None:
            raise ConflictError(
                f"annotation {annotation_id} was already {row.review or 'replaced'}; "
                "review the current answer",
                field="annotation_id",
            )
        if row.skipped:
            raise ConflictError(f"annotation {annotation_id} is a skip; there is nothing to review")
        if row.user_id == reviewer_id:
            raise PermissionDeniedError("nobody reviews their own answer", field="annotation_id")
        detail: dict[str, Any] = {"item_id": item.id, "annotator": row.user_id, "value": row.value}
        if decision.note:
            detail["note"] = decision.note
        fixed_by = None
        if decision.action == "accept":
            if row.review == ACCEPTED:
                raise ConflictError(f"annotation {annotation_id} is already accepted")
            row.review = ACCEPTED
        elif decision.action == "reject":
            row.review = REJECTED
            row.superseded_by = row.id
            item.n_answers = max(0, item.n_answers - 1)
            if item.state == ItemState.DONE.value:
                item.state = ItemState.OPEN.value if item.n_answers == 0 else ItemState.PARTIAL.value
                item.leased_by, item.lease_until = None, None
        else:
            fixed_by, detail["fixed_value"] = _fix(s, item, row, reviewer_id, decision, now)
            row.review = FIXED
            row.superseded_by = fixed_by
            detail["fixed_by"] = fixed_by
            project = s.get(Project, item.project_id)
            if project is not None and project.task == TaskType.TRANSCRIBE.value:
                from hitloop.services.speech import fill_edits

                s.flush()
                fill_edits(s, item.project_id, item.id)  # the fix against the item's draft
        row.reviewed_by, row.reviewed_at = reviewer_id, now
        record_event(s, reviewer_id, row.project_id, f"annotation.{row.review}", "annotation", row.id, detail)
        return ReviewResult(annotation_id=row.id, review=row.review, fixed_by=fixed_by, item_state=item.state)


def _fix(
    s: Session, item: Item, row: Annotation, reviewer_id: int, decision: ReviewDecision, now: float
) -> tuple[int, dict[str, Any]]:
    """Add the reviewer's corrected answer; returns its id and value."""
    if decision.value is None:
        raise InputError("fix needs the corrected answer in value", field="value")
    own = s.scalar(
        select(Annotation.id).where(
            Annotation.item_id == item.id,
            Annotation.user_id == reviewer_id,
            Annotation.superseded_by.is_(None),
            Annotation.skipped.is_(False),
        )
    )
    if own is not None:
        raise ConflictError(
            f"you answered item {item.id} yourself (annotation {own}); reject the other answer instead",
            field="annotation_id",
        )
    project = s.get(Project, item.project_id)
    assert project is not None
    value = validate_value(project.task, list(project.labels), decision.value)
    fixed = Annotation(
        item_id=item.id,
        project_id=item.project_id,
        user_id=reviewer_id,
        value=value,
        label=value["label"] if project.task == TaskType.CLASSIFY.value else None,
        skipped=False,
        client_key=f"review-{uuid.uuid4().hex}",
        seconds=None,
        shown={"review_of": row.id, "before": row.value},
        created_at=now,
    )
    s.add(fixed)
    s.flush()
    return int(fixed.id), value


def _same(final: Any, suggested: Any) -> bool:
    return _key(final) == _key(suggested)


def anchoring(db: Database, project_id: int) -> AnchoringOut:
    """How often the annotator's final answer equals the suggestion on screen, pre-selected or not.

    Counts each person's final answer to an item (their latest; an answer later
    fixed or rejected by a reviewer still counts as what they answered) that
    was given with a suggestion on screen. A much higher rate when pre-selected
    means people accept what is put in front of them.
    """
    with db.read() as s:
        _require_project(s, project_id)
        rows = s.execute(
            select(Annotation.value, Annotation.shown).where(
                Annotation.project_id == project_id,
                Annotation.skipped.is_(False),
                Annotation.shown.is_not(None),
                Annotation.superseded_by.is_(None) | Annotation.review.in_([FIXED, REJECTED]),
            )
        ).all()
    groups = {True: [0, 0], False: [0, 0]}
    for r in rows:
        shown = json_out(r.shown)
        if not isinstance(shown, dict) or "review_of" in shown or shown.get("value") is None:
            continue
        group = groups[bool(shown.get("preselected"))]
        group[0] += 1
        group[1] += int(_same(r.value, shown["value"]))

    def out(pair: list[int]) -> AnchoringGroup:
        n, same = pair
        return AnchoringGroup(answers=n, same_as_suggestion=same, rate=same / n if n else None)

    return AnchoringOut(preselected=out(groups[True]), not_preselected=out(groups[False]))
