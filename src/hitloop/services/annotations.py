"""Submitting, editing and listing annotations.

A submit is idempotent on ``(user, client_key)``: a retry returns the first
result. Answering an item twice supersedes the earlier answer (it stays in the
table with ``superseded_by`` set), so history is never destroyed. Over the API
a first answer needs the item served to the caller (they hold its lease, see
docs/teams.md), and nobody answers an item again after a reviewer rejected or
fixed their answer to it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any, cast

from sqlalchemy import Table, select
from sqlalchemy.exc import IntegrityError

from hitloop.db.engine import Database
from hitloop.db.sql import Statement, json_in, json_out
from hitloop.db.tables import Annotation, Project
from hitloop.errors import ConflictError, InputError, NotFoundError
from hitloop.schemas import AnnotationIn, AnnotationOut
from hitloop.services import gold, policy, retrain
from hitloop.services import overlap as overlap_service
from hitloop.services.auth import CurrentUser
from hitloop.services.exports import EXPORT_COLUMNS
from hitloop.services.item_view import items_for
from hitloop.types import ItemState, Role, TaskType, validate_value

__all__ = ["EXPORT_COLUMNS", "history", "iter_export_rows", "submit"]

annotations_t = cast(Table, Annotation.__table__)
projects_t = cast(Table, Project.__table__)

_ANNOTATION_COLUMNS = (
    annotations_t.c.id,
    annotations_t.c.item_id,
    annotations_t.c.user_id,
    annotations_t.c.value,
    annotations_t.c.skipped,
    annotations_t.c.client_key,
    annotations_t.c.seconds,
    annotations_t.c.created_at,
    annotations_t.c.superseded_by,
)


def _out(row: Any, *, replayed: bool = False) -> AnnotationOut:
    return AnnotationOut(
        id=row.id,
        item_id=row.item_id,
        user_id=row.user_id,
        value=json_out(row.value),
        skipped=bool(row.skipped),
        client_key=row.client_key,
        seconds=row.seconds,
        created_at=row.created_at,
        superseded_by=row.superseded_by,
        replayed=replayed,
    )


def submit(
    db: Database,
    user_id: int,
    item_id: int,
    body: AnnotationIn,
    *,
    project_id: int | None = None,
    now: float | None = None,
    caller: CurrentUser | None = None,
) -> AnnotationOut:
    """Record one person's answer (or skip) for one item.

    With ``caller`` (the API), the project's roles apply (hitloop.services.policy).
    """
    now = time.time() if now is None else now
    try:
        out = _submit(db, user_id, item_id, body, project_id, now, caller)
        retrain.enqueue_due(db)
        return out
    except IntegrityError:
        # A concurrent retry with the same client key won the race: return its result.
        with db.read() as s:
            row = s.execute(
                select(*_ANNOTATION_COLUMNS).where(
                    annotations_t.c.user_id == user_id, annotations_t.c.client_key == body.client_key
                )
            ).first()
        if row is None:
            raise
        return _out(row, replayed=True)


# The item, locked, with the caller's membership (for the policy check, at no extra round trip).
_LOCK_ITEM = Statement(
    "SELECT i.id, i.project_id, i.state, i.leased_by, i.lease_until, i.n_answers,"
    " m.role, m.paused_at, m.pause_reason FROM items i"
    " LEFT JOIN memberships m ON m.project_id = i.project_id AND m.user_id = :u"
    " WHERE i.id = :i {pg:FOR UPDATE OF i}"
)
_PICK_ANY = (Role.OWNER.value, Role.MANAGER.value)
_INSERT = Statement(
    "INSERT INTO annotations"
    " (item_id, project_id, user_id, value, label, skipped, client_key, seconds, shown, created_at)"
    " VALUES (:i, :p, :u, :value, :label, :skipped, :k, :seconds, :shown, :now) RETURNING id"
)
_SUPERSEDE = Statement("UPDATE annotations SET superseded_by = :new WHERE id = :old")
_UPDATE_ITEM = Statement(
    "UPDATE items SET n_answers = :n, state = :state, leased_by = NULL, lease_until = NULL WHERE id = :i"
)
_COUNT_ITEM = Statement("UPDATE items SET n_answers = :n WHERE id = :i")
# What the submit reads after taking the item's lock, in one statement (on PostgreSQL one round
# trip; a statement after the lock sees whatever a submit that held the lock before committed).
# ``held``: the caller holds a per-person lease on the item (overlap k > 1, gold); ``withdrawn``: a
# reviewer rejected or replaced (fixed) one of the caller's answers to it; ``shown_version``: the
# model version the answer's lineage names (``:mv``, NULL if none) belongs to this project. All
# three are index seeks (the last on model_versions' primary key).
_READ = Statement(
    "SELECT p.task, p.labels, p.overlap, p.overlap_max, prev.id AS prev_id, prev.skipped AS prev_skipped,"
    " EXISTS (SELECT 1 FROM leases l WHERE l.item_id = :i AND l.user_id = :u) AS held,"
    " EXISTS (SELECT 1 FROM model_versions v WHERE v.id = :mv AND v.project_id = p.id) AS shown_version,"
    " (SELECT w.review FROM annotations w WHERE w.item_id = :i AND w.user_id = :u"
    " AND w.review IN ('rejected', 'fixed') LIMIT 1) AS withdrawn,"
    " r.id, r.item_id, r.user_id, r.value, r.skipped, r.client_key, r.seconds, r.created_at, r.superseded_by"
    " FROM projects p"
    " LEFT JOIN annotations r ON r.user_id = :u AND r.client_key = :k"
    " LEFT JOIN annotations prev ON prev.item_id = :i AND prev.user_id = :u AND prev.superseded_by IS NULL"
    " WHERE p.id = :p LIMIT 1"
)
# PostgreSQL: the answer, the superseding of the previous one and the item's counters in one statement.
_INSERT_PG = (
    "WITH ins AS (INSERT INTO annotations"
    " (item_id, project_id, user_id, value, label, skipped, client_key, seconds, shown, created_at)"
    " VALUES (:i, :p, :u, :value, :label, :skipped, :k, :seconds, :shown, :now) RETURNING id),"
    " sup AS (UPDATE annotations SET superseded_by = (SELECT id FROM ins) WHERE id = :old)"
)
_WRITE_PG = {
    "insert": Statement(f"{_INSERT_PG} SELECT id FROM ins"),
    "count": Statement(f"{_INSERT_PG}, upd AS ({_COUNT_ITEM.sql}) SELECT id FROM ins"),
    "finish": Statement(f"{_INSERT_PG}, upd AS ({_UPDATE_ITEM.sql}) SELECT id FROM ins"),
}
_IMAGE_SIZE = Statement(
    "SELECT m.width, m.height FROM items i JOIN media m ON m.sha256 = i.media_sha256 WHERE i.id = :i"
)


def _submit(
    db: Database,
    user_id: int,
    item_id: int,
    body: AnnotationIn,
    project_id: int | None,
    now: float,
    caller: CurrentUser | None,
) -> AnnotationOut:
    with db.driver_write() as conn:
        # Lock the item first (PostgreSQL); SQLite is already serialized by BEGIN IMMEDIATE.
        item = _LOCK_ITEM.run(conn, {"i": item_id, "u": user_id}).first()
        if (
            item is None
            or item.state == ItemState.STAGED.value
            or (project_id is not None and item.project_id != project_id)
        ):
            raise NotFoundError(f"item {item_id} not found", field="item_id")
        pg = conn.dialect == "postgresql"
        # The project, an earlier use of the client key and the previous answer, in one read.
        version = body.shown.model_version_id if body.shown is not None else None
        keys = {"p": item.project_id, "u": user_id, "k": body.client_key, "i": item_id, "mv": version}
        project = _READ.run(conn, keys).one()
        replay = project if project.id is not None else None
        if replay is not None:
            if replay.item_id != item_id:
                raise ConflictError("this client_key was already used for another item", field="client_key")
            return _out(replay, replayed=True)
        if caller is not None or item.paused_at is not None:
            try:
                policy.check_queue_access(
                    caller, item.project_id, item.role, item.paused_at, item.pause_reason
                )
            except NotFoundError:
                raise NotFoundError(f"item {item_id} not found", field="item_id") from None

        if version is not None and not project.shown_version:
            raise InputError(
                f"model version {version} is not a model of project {item.project_id}",
                field="shown.model_version_id",
            )
        if body.skip:
            if body.value is not None:
                raise InputError("a skip carries no value", field="value")
            value, label = None, None
        else:
            if body.value is None:
                raise InputError("an answer needs a value (or skip: true)", field="value")
            size = None
            if project.task == TaskType.BOXES.value:
                media = _IMAGE_SIZE.run(conn, {"i": item_id}).first()
                size = (media.width, media.height) if media is not None and media.width else None
            value = validate_value(project.task, json_out(project.labels), body.value, image_size=size)
            label = value["label"] if project.task == TaskType.CLASSIFY.value else None

        previous = project.prev_id  # the caller's current answer to this item, if any
        if project.withdrawn is not None:
            # A conflict, not a refusal of the person: the label page's outbox reports a 409 and goes on.
            raise ConflictError(
                f"a reviewer {project.withdrawn} your answer to item {item_id};"
                " it is someone else's to answer now",
                field="item_id",
            )
        # Gold items and items needing several answers keep per-person leases (services/overlap.py).
        multi = item.state == ItemState.GOLD.value or overlap_service.is_multi(
            project.overlap, project.overlap_max
        )
        # A first answer over the API needs the item served to the caller: they hold its lease, run
        # out or not, until the sweep hands it back to the queue (then they ask for "next" again).
        holds = project.held if multi else item.state == ItemState.LEASED.value and item.leased_by == user_id
        # Owners, managers and admins may answer any open item (labeling chosen items, scripts):
        # the queue binds the people whose answers are measured, not those who run the project.
        picks = caller is not None and (caller.is_admin or item.role in _PICK_ANY)
        if previous is None and caller is not None and not holds and not picks:
            raise ConflictError(
                f"item {item_id} is not held by you: answer the items POST"
                f" /api/projects/{item.project_id}/next serves you (a hold that ran out and went back"
                " to the queue must be asked for again)",
                field="item_id",
            )
        leased_to_other = (
            not multi
            and item.state == ItemState.LEASED.value
            and item.leased_by != user_id
            and (item.lease_until or 0.0) > now
        )
        if multi and previous is None:
            refused = overlap_service.can_answer(
                conn, item, user_id, project.overlap, held=bool(project.held)
            )
            if refused:
                raise ConflictError(refused, field="item_id")
        elif previous is None:
            if leased_to_other:
                raise ConflictError(f"item {item_id} is reserved by another annotator", field="item_id")
            if item.state == ItemState.DONE.value:
                raise ConflictError(f"item {item_id} already has all the answers it needs", field="item_id")

        counted_before = previous is not None and not project.prev_skipped
        n_answers = item.n_answers - int(counted_before) + int(not body.skip)
        state = ItemState.DONE.value if n_answers >= project.overlap else ItemState.OPEN.value
        params = {
            "i": item_id,
            "p": item.project_id,
            "u": user_id,
            "value": json_in(conn, value),
            "label": label,
            "skipped": body.skip,
            "k": body.client_key,
            "seconds": body.seconds,
            "shown": json_in(conn, body.shown.model_dump() if body.shown else None),
            "now": now,
        }
        if pg:
            # Insert, supersede and count in one statement (multi-answer items: see after_answer below).
            write = "insert" if multi else "count" if leased_to_other else "finish"
            params.update(old=previous, n=n_answers, state=state)
            new_id = _WRITE_PG[write].run(conn, params).scalar_one()
        else:
            new_id = _INSERT.run(conn, params).scalar_one()
        if not body.skip:
            retrain.count_label(db, item.project_id)  # memory only; the check runs after commit
            if project.task == TaskType.TRANSCRIBE.value and value is not None:  # edits vs the draft, once
                from hitloop.services.speech import record_edits

                record_edits(conn, new_id, item_id, item.project_id, value)
        if previous is not None and not pg:
            _SUPERSEDE.run(conn, {"new": new_id, "old": previous})
        if multi:
            overlap_service.after_answer(
                conn, item, user_id, n_answers, overlap=project.overlap, overlap_max=project.overlap_max
            )
            if item.state == ItemState.GOLD.value and not body.skip:
                gold.check_pause(conn, item.project_id, user_id, now)
        elif not pg:  # (PostgreSQL counted the answer in the write statement)
            if leased_to_other:
                _COUNT_ITEM.run(conn, {"n": n_answers, "i": item_id})
            else:
                _UPDATE_ITEM.run(conn, {"n": n_answers, "state": state, "i": item_id})
        return AnnotationOut(
            id=new_id,
            item_id=item_id,
            user_id=user_id,
            value=value,
            skipped=body.skip,
            client_key=body.client_key,
            seconds=body.seconds,
            created_at=now,
        )


def history(
    db: Database, project_id: int, user_id: int, *, limit: int = 20, sees_gold: bool = True
) -> list[dict[str, Any]]:
    """The user's latest answers in a project, newest first, with their items as the user reads them.

    ``sees_gold`` False: gold items read like regular ones (hitloop.services.item_view).
    """
    with db.read() as s:
        rows = s.execute(
            select(*_ANNOTATION_COLUMNS)
            .where(
                annotations_t.c.project_id == project_id,
                annotations_t.c.user_id == user_id,
                annotations_t.c.superseded_by.is_(None),
            )
            .order_by(annotations_t.c.id.desc())
            .limit(limit)
        ).all()
        ids = [r.item_id for r in rows]
        by_id = items_for(s, ids, user_id, sees_gold=sees_gold)
    return [{"annotation": _out(r), "item": by_id[r.item_id]} for r in rows]


_EXPORT = Statement(
    "SELECT a.id, a.item_id, i.external_id, i.text, i.media_sha256, i.meta, u.username, a.label, a.value,"
    " a.skipped, a.seconds, a.created_at"
    " FROM annotations a JOIN items i ON i.id = a.item_id JOIN users u ON u.id = a.user_id"
    " WHERE a.project_id = :p AND a.superseded_by IS NULL AND (:all_ OR a.skipped = :no)"
    " ORDER BY a.id"
)


def iter_export_rows(
    db: Database, project_id: int, *, include_skipped: bool = False, chunk: int = 10_000
) -> Iterator[dict[str, Any]]:
    """Stream the project's current (not superseded) annotations, oldest first."""
    with db.read() as s:
        if s.get(Project, project_id) is None:
            raise NotFoundError(f"project {project_id} not found", field="project_id")
    return _export(db, project_id, include_skipped, chunk)


def _export(db: Database, project_id: int, include_skipped: bool, chunk: int) -> Iterator[dict[str, Any]]:
    names = EXPORT_COLUMNS
    loads = json.loads
    with db.driver_read() as conn:
        params = {"p": project_id, "all_": include_skipped, "no": False}
        for row in _EXPORT.stream(conn, params, chunk=chunk):
            out = dict(zip(names, row, strict=True))
            meta, value = out["meta"], out["value"]
            if type(meta) is str:
                out["meta"] = loads(meta)
            if type(value) is str:
                out["value"] = loads(value)
            out["skipped"] = bool(out["skipped"])
            yield out
