"""The labeling queue: serve the next items under a lease (DESIGN §4.1).

"Next" is one index seek on ``(project_id, state, priority, id)`` plus one
conditional update that takes the lease, in one short write transaction
(``BEGIN IMMEDIATE`` on SQLite, ``FOR UPDATE SKIP LOCKED`` on PostgreSQL).
Expired leases are swept back to ``open`` at most once a second per project.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select, and_, exists, select, update

from hitloop.db.engine import Database
from hitloop.db.tables import Annotation, Item, Project
from hitloop.errors import NotFoundError
from hitloop.schemas import ItemOut
from hitloop.types import ItemState

__all__ = ["ITEM_COLUMNS", "item_out", "next_items", "pick_query", "release_items", "sweep_expired_leases"]

items = Item.__table__
annotations = Annotation.__table__

ITEM_COLUMNS = (
    items.c.id,
    items.c.project_id,
    items.c.external_id,
    items.c.text,
    items.c.media_sha256,
    items.c.meta,
    items.c.state,
    items.c.lease_until,
    items.c.priority,
)

SWEEP_INTERVAL_S = 1.0

OPEN = ItemState.OPEN.value
LEASED = ItemState.LEASED.value


def item_out(row: Any, *, state: str | None = None, lease_until: float | None = None) -> ItemOut:
    return ItemOut(
        id=row.id,
        project_id=row.project_id,
        external_id=row.external_id,
        text=row.text,
        media_url=f"/api/items/{row.id}/media" if row.media_sha256 else None,
        meta=row.meta or {},
        state=state or row.state,
        lease_until=lease_until if lease_until is not None else row.lease_until,
    )


def sweep_expired_leases(session: Any, project_id: int, now: float) -> int:
    """Return items whose lease ran out to the queue; returns how many."""
    result = session.execute(
        update(items)
        .where(
            items.c.project_id == project_id,
            items.c.state == LEASED,
            items.c.lease_until < now,
        )
        .values(state=OPEN, leased_by=None, lease_until=None)
    )
    return int(result.rowcount or 0)


def _maybe_sweep(db: Database, session: Any, project_id: int, now: float) -> None:
    due = db.memo.setdefault("sweep_due", {})
    if due.get(project_id, 0.0) <= now:
        due[project_id] = now + SWEEP_INTERVAL_S
        sweep_expired_leases(session, project_id, now)


def pick_query(project_id: int, user_id: int, limit: int) -> Select[tuple[int]]:
    """The seek: open items of the project in queue order that the user has not answered."""
    answered = exists().where(and_(annotations.c.item_id == items.c.id, annotations.c.user_id == user_id))
    return (
        select(items.c.id)
        .where(items.c.project_id == project_id, items.c.state == OPEN, ~answered)
        .order_by(items.c.priority.desc(), items.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


def next_items(
    db: Database,
    project_id: int,
    user_id: int,
    *,
    count: int = 1,
    have: Sequence[int] = (),
    lease_seconds: float = 600.0,
    max_leases: int = 8,
    now: float | None = None,
) -> list[ItemOut]:
    """Lease up to ``count`` items to ``user_id``.

    Items the user already holds (for example after reloading the page) come
    first, unless listed in ``have`` (items the client already shows). The user
    never holds more than ``max_leases`` items and is never served an item they
    already answered or skipped.
    """
    now = time.time() if now is None else now
    until = now + lease_seconds
    have_set = set(have)
    with db.write() as s:
        if s.scalar(select(Project.id).where(Project.id == project_id)) is None:
            raise NotFoundError(f"project {project_id} not found", field="project_id")
        _maybe_sweep(db, s, project_id, now)
        held = s.execute(
            select(*ITEM_COLUMNS)
            .where(
                items.c.project_id == project_id,
                items.c.state == LEASED,
                items.c.leased_by == user_id,
            )
            .order_by(items.c.priority.desc(), items.c.id)
        ).all()
        out = [r for r in held if r.id not in have_set][:count]
        if out:
            s.execute(update(items).where(items.c.id.in_([r.id for r in out])).values(lease_until=until))
        room = min(count - len(out), max_leases - len(held))
        if room > 0:
            # Two statements rather than UPDATE ... IN (SELECT ... LIMIT): PostgreSQL may
            # evaluate such a subquery more than once and lease more rows than asked.
            picked = list(s.scalars(pick_query(project_id, user_id, room)))
            taken = (
                s.execute(
                    update(items)
                    .where(items.c.id.in_(picked), items.c.state == OPEN)
                    .values(state=LEASED, leased_by=user_id, lease_until=until)
                    .returning(*ITEM_COLUMNS)
                ).all()
                if picked
                else []
            )
            taken.sort(key=lambda r: (-r.priority, r.id))
            out.extend(taken)
    return [item_out(r, state=LEASED, lease_until=until) for r in out]


def release_items(db: Database, project_id: int, user_id: int, item_ids: Sequence[int]) -> int:
    """Give items back to the queue without answering them (e.g. the page closed)."""
    if not item_ids:
        return 0
    with db.write() as s:
        result = s.execute(
            update(items)
            .where(
                items.c.project_id == project_id,
                items.c.id.in_(list(item_ids)),
                items.c.state == LEASED,
                items.c.leased_by == user_id,
            )
            .values(state=OPEN, leased_by=None, lease_until=None)
        )
        return int(result.rowcount or 0)
