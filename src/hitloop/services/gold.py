"""Gold items: items with a known answer, mixed unmarked into every annotator's queue.

A gold item is in state ``gold``: never done, served to each person once (held
through a row in ``leases``), at the project's ``gold_rate``. Each answer to a
gold item is compared with the known answer; a person whose accuracy since
their last unpause falls below ``gold_pause_below`` after ``gold_min_answers``
gold answers is paused (the queue refuses them) until a manager unpauses them.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any, cast

from sqlalchemy import Table, select, text, update

from hitloop.db.engine import Database, DriverConnection
from hitloop.db.sql import Statement, json_in, json_out
from hitloop.db.tables import Item, Lease, Project
from hitloop.errors import InputError, NotFoundError
from hitloop.schemas import GoldAccuracy, GoldItemOut, GoldMark
from hitloop.services.audit import record_event
from hitloop.services.overlap import is_multi
from hitloop.services.team import read_settings
from hitloop.types import ItemState, validate_value

__all__ = ["accuracy", "check_pause", "list_gold", "mark_gold", "unmark_gold"]

items_t = cast(Table, Item.__table__)
leases_t = cast(Table, Lease.__table__)


def _project(s: Any, project_id: int) -> Project:
    row = s.get(Project, project_id)
    if row is None:
        raise NotFoundError(f"project {project_id} not found", field="project_id")
    return cast(Project, row)


def mark_gold(db: Database, actor_id: int | None, project_id: int, marks: Sequence[GoldMark]) -> int:
    """Give items their known answers (all or nothing); returns how many were marked."""
    with db.write() as s:
        project = _project(s, project_id)
        resolved: dict[int, dict[str, Any]] = {}
        for i, mark in enumerate(marks):
            where = f"items[{i}]"
            try:
                value = validate_value(project.task, list(project.labels), mark.value)
            except InputError as exc:
                exc.field = f"{where}.{exc.field or 'value'}"
                raise
            item_id = _resolve(s, project_id, mark, where)
            resolved[item_id] = value
        for item_id, value in resolved.items():
            s.execute(
                update(items_t)
                .where(items_t.c.id == item_id)
                .values(gold=value, state=ItemState.GOLD.value, leased_by=None, lease_until=None)
            )
        # Holds taken while the item was a regular one end; gold holds are per person anyway.
        s.execute(leases_t.delete().where(leases_t.c.item_id.in_(list(resolved))))
        record_event(s, actor_id, project_id, "gold.mark", "project", project_id, {"items": sorted(resolved)})
    return len(resolved)


def _resolve(s: Any, project_id: int, mark: GoldMark, where: str) -> int:
    if (mark.item_id is None) == (mark.external_id is None):
        raise InputError("give item_id or external_id (one of them)", field=where)
    if mark.item_id is not None:
        row = s.execute(
            select(items_t.c.id, items_t.c.state).where(
                items_t.c.id == mark.item_id, items_t.c.project_id == project_id
            )
        ).first()
        if row is None or row.state == ItemState.STAGED.value:
            raise NotFoundError(
                f"item {mark.item_id} not found in project {project_id}", field=f"{where}.item_id"
            )
        return int(row.id)
    rows = s.execute(
        select(items_t.c.id).where(
            items_t.c.project_id == project_id,
            items_t.c.external_id == mark.external_id,
            items_t.c.state != ItemState.STAGED.value,
        )
    ).all()
    if not rows:
        raise NotFoundError(f"no item with external_id {mark.external_id!r}", field=f"{where}.external_id")
    if len(rows) > 1:
        raise InputError(
            f"{len(rows)} items have external_id {mark.external_id!r}; use item_id",
            field=f"{where}.external_id",
        )
    return int(rows[0].id)


def unmark_gold(db: Database, actor_id: int | None, project_id: int, item_ids: Sequence[int]) -> int:
    """Make gold items regular again; they rejoin the queue by their answer count."""
    with db.write() as s:
        project = _project(s, project_id)
        ids = list(
            s.scalars(
                select(items_t.c.id).where(
                    items_t.c.project_id == project_id,
                    items_t.c.id.in_(list(item_ids)),
                    items_t.c.state == ItemState.GOLD.value,
                )
            )
        )
        missing = sorted(set(item_ids) - set(ids))
        if missing:
            raise NotFoundError(
                f"item {missing[0]} is not a gold item of project {project_id}", field="item_ids"
            )
        s.execute(leases_t.delete().where(leases_t.c.item_id.in_(ids)))
        multi = is_multi(project.overlap, project.overlap_max)
        s.execute(
            text(
                "UPDATE items SET gold = NULL, state = CASE WHEN n_answers >= :k THEN 'done'"
                " WHEN n_answers > 0 AND :multi THEN 'partial' ELSE 'open' END"
                f" WHERE id IN ({', '.join(str(int(i)) for i in ids)})"
            ),
            {"k": project.overlap, "multi": multi},
        )
        record_event(s, actor_id, project_id, "gold.unmark", "project", project_id, {"items": ids})
    return len(ids)


_GOLD_ANSWERS = text(
    "SELECT a.user_id, a.item_id, a.value, i.gold FROM annotations a JOIN items i ON i.id = a.item_id"
    " WHERE a.project_id = :p AND i.state = 'gold' AND a.superseded_by IS NULL AND a.skipped = :f"
)


def _same(answer: Any, gold: Any) -> bool:
    return bool(json_out(answer) == json_out(gold))


def list_gold(db: Database, project_id: int) -> list[GoldItemOut]:
    """The project's gold items with their known answers and how often people got them right."""
    with db.read() as s:
        _project(s, project_id)
        rows = s.execute(
            select(items_t.c.id, items_t.c.external_id, items_t.c.text, items_t.c.gold)
            .where(items_t.c.project_id == project_id, items_t.c.state == ItemState.GOLD.value)
            .order_by(items_t.c.id)
        ).all()
        answers = s.execute(_GOLD_ANSWERS, {"p": project_id, "f": False}).all()
    tally: dict[int, list[int]] = {}
    for a in answers:
        t = tally.setdefault(a.item_id, [0, 0])
        t[0] += 1
        t[1] += int(_same(a.value, a.gold))
    return [
        GoldItemOut(
            item_id=r.id,
            external_id=r.external_id,
            text=r.text,
            value=json_out(r.gold),
            answers=tally.get(r.id, [0, 0])[0],
            correct=tally.get(r.id, [0, 0])[1],
        )
        for r in rows
    ]


def accuracy(db: Database, project_id: int) -> list[GoldAccuracy]:
    """Each member's accuracy on gold items (all their gold answers), by username."""
    with db.read() as s:
        _project(s, project_id)
        answers = s.execute(_GOLD_ANSWERS, {"p": project_id, "f": False}).all()
        members = s.execute(
            text(
                "SELECT u.id, u.username, m.paused_at FROM memberships m JOIN users u ON u.id = m.user_id"
                " WHERE m.project_id = :p"
            ),
            {"p": project_id},
        ).all()
        names = {m.id: (m.username, m.paused_at is not None) for m in members}
        extra = {a.user_id for a in answers} - set(names)
        if extra:  # answers from people who left the project
            for uid, name in s.execute(
                text(f"SELECT id, username FROM users WHERE id IN ({', '.join(str(int(u)) for u in extra)})")
            ):
                names[uid] = (name, False)
    tally: dict[int, list[int]] = {}
    for a in answers:
        t = tally.setdefault(a.user_id, [0, 0])
        t[0] += 1
        t[1] += int(_same(a.value, a.gold))
    out = []
    for uid, (name, paused) in names.items():
        n, ok = tally.get(uid, [0, 0])
        out.append(
            GoldAccuracy(
                user_id=uid,
                username=name,
                answers=n,
                correct=ok,
                accuracy=ok / n if n else None,
                paused=paused,
            )
        )
    return sorted(out, key=lambda g: g.username)


_MINE = Statement(
    "SELECT a.value, i.gold FROM annotations a JOIN items i ON i.id = a.item_id"
    " WHERE a.user_id = :u AND a.project_id = :p AND i.state = 'gold' AND a.superseded_by IS NULL"
    " AND a.skipped = :f AND a.created_at >= :since"
)
_MEMBER = Statement("SELECT paused_at, gold_since FROM memberships WHERE project_id = :p AND user_id = :u")
_PROJECT_SETTINGS = Statement("SELECT settings FROM projects WHERE id = :p")
_PAUSE = Statement(
    "UPDATE memberships SET paused_at = :now, pause_reason = :why WHERE project_id = :p AND user_id = :u"
)
_EVENT = Statement(
    "INSERT INTO events (user_id, project_id, action, object_type, object_id, detail, created_at)"
    " VALUES (NULL, :p, 'member.pause', 'user', :obj, :detail, :now)"
)


def check_pause(conn: DriverConnection, project_id: int, user_id: int, now: float | None = None) -> bool:
    """After a gold answer: pause the person if their gold accuracy fell too low; True if paused now."""
    now = time.time() if now is None else now
    member = _MEMBER.run(conn, {"p": project_id, "u": user_id}).first()
    if member is None or member.paused_at is not None:
        return False
    settings = read_settings(_PROJECT_SETTINGS.run(conn, {"p": project_id}).scalar_one())
    rows = _MINE.run(conn, {"u": user_id, "p": project_id, "f": False, "since": member.gold_since}).all()
    n = len(rows)
    if n < settings["gold_min_answers"]:
        return False
    correct = sum(_same(r.value, r.gold) for r in rows)
    threshold = settings["gold_pause_below"]
    if correct / n >= threshold:
        return False
    why = f"accuracy on gold items {correct} of {n} ({correct / n:.0%}) is below {threshold:.0%}"
    _PAUSE.run(conn, {"now": now, "why": why, "p": project_id, "u": user_id})
    detail = {"reason": why, "automatic": True}
    _EVENT.run(conn, {"p": project_id, "obj": str(user_id), "detail": json_in(conn, detail), "now": now})
    return True
