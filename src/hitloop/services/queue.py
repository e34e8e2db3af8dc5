"""The labeling queue: serve the next items under a lease (DESIGN §4.1).

"Next" is one index seek on ``(project_id, state, priority, id)`` plus one
conditional update that takes the lease, in one short write transaction
(``BEGIN IMMEDIATE`` on SQLite, ``FOR UPDATE SKIP LOCKED`` on PostgreSQL).
Expired leases are swept back to ``open`` at most once a second per project.
"""

from __future__ import annotations

import random
import time
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import CursorResult, Select, Table, and_, exists, select, update

from hitloop.db.engine import Database
from hitloop.db.sql import Statement, json_out
from hitloop.db.tables import Annotation, Item
from hitloop.errors import NotFoundError
from hitloop.schemas import ItemOut
from hitloop.services import overlap, policy
from hitloop.services.auth import CurrentUser
from hitloop.services.suggestions import attach_suggestions
from hitloop.types import ItemState

__all__ = ["ITEM_COLUMNS", "item_out", "next_items", "pick_query", "release_items", "sweep_expired_leases"]

items = cast(Table, Item.__table__)
annotations_t = cast(Table, Annotation.__table__)

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
_PUBLIC_STATE = {ItemState.GOLD.value: OPEN}


def item_out(row: Any, *, state: str | None = None, lease_until: float | None = None) -> ItemOut:
    return ItemOut(
        id=row.id,
        project_id=row.project_id,
        external_id=row.external_id,
        text=row.text,
        media_url=f"/api/items/{row.id}/media" if row.media_sha256 else None,
        meta=json_out(row.meta) or {},
        # A gold item looks like any other to the person it is served to.
        state=_PUBLIC_STATE.get(state or row.state, state or row.state),
        lease_until=lease_until if lease_until is not None else row.lease_until,
    )


def sweep_expired_leases(db: Database, project_id: int, now: float | None = None) -> int:
    """Return items whose lease ran out to the queue; returns how many."""
    with db.driver_write() as conn:
        result = _SWEEP.run(conn, {"p": project_id, "now": time.time() if now is None else now})
        return result.rowcount


def pick_query(project_id: int, user_id: int, limit: int) -> Select[tuple[int]]:
    """The seek: open items of the project in queue order that the user has not answered."""
    answered = exists().where(and_(annotations_t.c.item_id == items.c.id, annotations_t.c.user_id == user_id))
    return (
        select(items.c.id)
        .where(items.c.project_id == project_id, items.c.state == OPEN, ~answered)
        .order_by(items.c.priority.desc(), items.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


_COLS = "id, project_id, external_id, text, media_sha256, meta, state, lease_until, priority"
# The project's queue settings and the caller's membership, in the one query "next" needed anyway.
_PROJECT = Statement(
    "SELECT p.overlap, p.overlap_max, p.gold_rate, m.role, m.paused_at, m.pause_reason FROM projects p"
    " LEFT JOIN memberships m ON m.project_id = p.id AND m.user_id = :u WHERE p.id = :p"
)
_SWEEP = Statement(
    "UPDATE items SET state = 'open', leased_by = NULL, lease_until = NULL"
    " WHERE project_id = :p AND state = 'leased' AND lease_until < :now"
)
_HELD = Statement(
    f"SELECT {_COLS} FROM items WHERE project_id = :p AND state = 'leased' AND leased_by = :u"
    " ORDER BY priority DESC, id"
)
# The seek (same query as pick_query, which the query-plan test checks).
_PICK = Statement(
    "SELECT id FROM items WHERE project_id = :p AND state = 'open'"
    " AND NOT EXISTS (SELECT 1 FROM annotations"
    " WHERE annotations.item_id = items.id AND annotations.user_id = :u)"
    " ORDER BY priority DESC, id LIMIT :n {pg:FOR UPDATE SKIP LOCKED}"
)


def _ids(ids: Sequence[int]) -> str:
    return ", ".join(str(int(i)) for i in ids)


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
    caller: CurrentUser | None = None,
    rng: random.Random | None = None,
) -> list[ItemOut]:
    """Lease up to ``count`` items to ``user_id``.

    Items the user already holds (for example after reloading the page) come
    first, unless listed in ``have`` (items the client already shows). The user
    never holds more than ``max_leases`` items and is never served an item they
    already answered or skipped. With ``caller`` (the API), the project's roles
    apply (hitloop.services.policy); a paused member is refused either way.
    """
    now = time.time() if now is None else now
    until = now + lease_seconds
    have_set = set(have)
    with db.driver_write() as conn:
        project = _PROJECT.run(conn, {"p": project_id, "u": user_id}).first()
        if project is None:
            raise NotFoundError(f"project {project_id} not found", field="project_id")
        if caller is not None or project.paused_at is not None:
            policy.check_queue_access(
                caller, project_id, project.role, project.paused_at, project.pause_reason
            )
        due = db.memo.setdefault("sweep_due", {})
        sweep = due.get(project_id, 0.0) <= now
        if sweep:
            due[project_id] = now + SWEEP_INTERVAL_S
            _SWEEP.run(conn, {"p": project_id, "now": now})
        if project.overlap > 1 or project.overlap_max > 1 or project.gold_rate > 0:
            # Several answers per item, or gold items mixed in: per-person leases.
            rows = overlap.general_next(
                conn,
                project_id,
                user_id,
                overlap=project.overlap,
                overlap_max=project.overlap_max,
                gold_rate=project.gold_rate,
                count=count,
                have=have_set,
                max_leases=max_leases,
                until=until,
                now=now,
                sweep=sweep,
                rng=rng,
            )
            return attach_suggestions(conn, [item_out(r, state=LEASED, lease_until=until) for r in rows])
        held = _HELD.run(conn, {"p": project_id, "u": user_id}).all()
        out = [r for r in held if r.id not in have_set][:count]
        if out:
            Statement(f"UPDATE items SET lease_until = :until WHERE id IN ({_ids([r.id for r in out])})").run(
                conn, {"until": until}
            )
        room = min(count - len(out), max_leases - len(held))
        if room > 0:
            # Two statements rather than UPDATE ... IN (SELECT ... LIMIT): PostgreSQL may
            # evaluate such a subquery more than once and lease more rows than asked.
            picked = _PICK.run(conn, {"p": project_id, "u": user_id, "n": room}).scalars()
            if picked:
                taken = (
                    Statement(
                        "UPDATE items SET state = 'leased', leased_by = :u, lease_until = :until"
                        f" WHERE id IN ({_ids(picked)}) AND state = 'open' RETURNING {_COLS}"
                    )
                    .run(conn, {"u": user_id, "until": until})
                    .all()
                )
                taken.sort(key=lambda r: (-r.priority, r.id))
                out.extend(taken)
        return attach_suggestions(conn, [item_out(r, state=LEASED, lease_until=until) for r in out])


def release_items(db: Database, project_id: int, user_id: int, item_ids: Sequence[int]) -> int:
    """Give items back to the queue without answering them (e.g. the page closed)."""
    if not item_ids:
        return 0
    with db.driver_write() as conn:
        project = _PROJECT.run(conn, {"p": project_id, "u": user_id}).first()
        released = 0
        if project is not None and (project.overlap > 1 or project.overlap_max > 1 or project.gold_rate > 0):
            released = overlap.release_leases(conn, project_id, user_id, item_ids, project.overlap)
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
        return released + int(cast(CursorResult[Any], result).rowcount or 0)
