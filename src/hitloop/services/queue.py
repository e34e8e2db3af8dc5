"""The labeling queue: serve the next items under a lease (DESIGN §4.1).

"Next" is one index seek on ``(project_id, state, priority, id)`` plus one
conditional update that takes the lease, in one short write transaction
(``BEGIN IMMEDIATE`` on SQLite, ``FOR UPDATE SKIP LOCKED`` on PostgreSQL).
Expired leases are swept back to ``open`` at most once a second per project.
On PostgreSQL, where every statement is a round trip, the common case (one
answer per item, no gold) is two statements in autocommit (:func:`_next_pg`).
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
from hitloop.services.suggestions import attach_suggestions, suggestion_out
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


# PostgreSQL: the same work in fewer round trips, each statement committing by itself
# (the next call's writes are each one statement, so it needs no transaction around them).
# The project, the membership and the items the caller holds, in one read.
_HEAD_PG = Statement(
    "SELECT p.overlap, p.overlap_max, p.gold_rate, m.role, m.paused_at, m.pause_reason,"
    " h.id, h.project_id, h.external_id, h.text, h.media_sha256, h.meta, h.state, h.lease_until, h.priority"
    " FROM projects p LEFT JOIN memberships m ON m.project_id = p.id AND m.user_id = :u"
    " LEFT JOIN LATERAL (SELECT * FROM items WHERE items.project_id = p.id AND items.state = 'leased'"
    " AND items.leased_by = :u) h ON true"
    " WHERE p.id = :p ORDER BY h.priority DESC, h.id"
)
_RENEW_PG = Statement(
    "UPDATE items SET lease_until = :until"
    " WHERE id = ANY(:ids) AND state = 'leased' AND leased_by = :u RETURNING id"
)
# The seek and the lease in one statement. The seek is a MATERIALIZED CTE, which
# PostgreSQL evaluates exactly once (a plain ``IN (SELECT ... LIMIT n)`` may be
# evaluated more than once and lease more rows than asked). The item's
# suggestion comes back with it.
_TAKE_PG = Statement(
    "WITH picked AS MATERIALIZED ("
    f" {_PICK.sql.replace('{pg:', '').replace('}', '')}),"
    " leased AS (UPDATE items SET state = 'leased', leased_by = :u, lease_until = :until FROM picked"
    " WHERE items.id = picked.id AND items.state = 'open'"
    " RETURNING items.id, items.project_id, items.external_id, items.text, items.media_sha256, items.meta,"
    " items.state, items.lease_until, items.priority)"
    " SELECT l.*, s.model_version_id AS s_model_version_id, s.value AS s_value, s.label AS s_label,"
    " s.confidence AS s_confidence, s.explanation AS s_explanation"
    " FROM leased l LEFT JOIN suggestions s ON s.item_id = l.id"
)


def _check_access(project: Any, project_id: int, caller: CurrentUser | None) -> None:
    """Refuse a caller whose role has no queue (API calls); a paused member is refused either way."""
    if caller is not None or project.paused_at is not None:
        policy.check_queue_access(caller, project_id, project.role, project.paused_at, project.pause_reason)


def _per_person(project: Any) -> bool:
    """Several answers per item, or gold items mixed in: per-person leases (services/overlap.py)."""
    return bool(project.overlap > 1 or project.overlap_max > 1 or project.gold_rate > 0)


def _sweep_due(db: Database, project_id: int, now: float) -> bool:
    """True at most once a second per project and process: time to sweep expired leases."""
    due = db.memo.setdefault("sweep_due", {})
    if due.get(project_id, 0.0) > now:
        return False
    due[project_id] = now + SWEEP_INTERVAL_S
    return True


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
    project: Any = None
    if not db.is_sqlite:
        served, project = _next_pg(db, project_id, user_id, count, have_set, max_leases, now, until, caller)
        if served is not None:
            return served
    with db.driver_write() as conn:
        if project is None:  # (else read and checked by _next_pg)
            project = _PROJECT.run(conn, {"p": project_id, "u": user_id}).first()
            if project is None:
                raise NotFoundError(f"project {project_id} not found", field="project_id")
            _check_access(project, project_id, caller)
        sweep = _sweep_due(db, project_id, now)
        if sweep:
            _SWEEP.run(conn, {"p": project_id, "now": now})
        if _per_person(project):
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


def _next_pg(
    db: Database,
    project_id: int,
    user_id: int,
    count: int,
    have: set[int],
    max_leases: int,
    now: float,
    until: float,
    caller: CurrentUser | None,
) -> tuple[list[ItemOut] | None, Any]:
    """next_items on PostgreSQL for one answer per item and no gold: two round trips.

    Returns the items served and the project's row. For the other projects
    (several answers per item, gold items mixed in) it serves nothing (None):
    they take the general path, in one transaction.
    """
    with db.driver_autocommit() as conn:
        rows = _HEAD_PG.run(conn, {"p": project_id, "u": user_id}).all()
        if not rows:
            raise NotFoundError(f"project {project_id} not found", field="project_id")
        project = rows[0]
        _check_access(project, project_id, caller)
        if _per_person(project):
            return None, project
        held = [r for r in rows if r.id is not None]
        if _sweep_due(db, project_id, now):
            _SWEEP.run(conn, {"p": project_id, "now": now})
            held = [r for r in held if r.lease_until >= now]  # the rest went back to the queue
        out = [r for r in held if r.id not in have][:count]
        served: list[ItemOut] = []
        if out:
            # Only what is still the caller's (another worker's sweep may have taken some back).
            renew = {"until": until, "ids": [r.id for r in out], "u": user_id}
            kept = set(_RENEW_PG.run(conn, renew).scalars())
            out = [r for r in out if r.id in kept]
            served = attach_suggestions(conn, [item_out(r, state=LEASED, lease_until=until) for r in out])
        room = min(count - len(out), max_leases - len(held))
        if room > 0:
            taken = _TAKE_PG.run(conn, {"p": project_id, "u": user_id, "n": room, "until": until}).all()
            taken.sort(key=lambda r: (-r.priority, r.id))
            for r in taken:
                item = item_out(r, state=LEASED, lease_until=until)
                if r.s_value is not None:
                    item.suggestion = suggestion_out(
                        r.s_model_version_id, r.s_value, r.s_label, r.s_confidence, r.s_explanation
                    )
                served.append(item)
        return served, project


def release_items(db: Database, project_id: int, user_id: int, item_ids: Sequence[int]) -> int:
    """Give items back to the queue without answering them (e.g. the page closed)."""
    if not item_ids:
        return 0
    with db.driver_write() as conn:
        project = _PROJECT.run(conn, {"p": project_id, "u": user_id}).first()
        released = 0
        if project is not None and _per_person(project):
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
