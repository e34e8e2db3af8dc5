"""The append-only audit log: who did what to which object, and when.

Events are only ever added, in the same transaction as the change they
describe; nothing in hitloop updates or deletes them. Owners read a project's
events a page at a time (newest first) or export them whole as JSON lines or
CSV; administrators read the instance's events (those of no project: users
created, sessions started, API tokens created and revoked) the same way.
"""

from __future__ import annotations

import csv
import io
import json
import time
from collections.abc import Iterator
from typing import Any, Literal

from sqlalchemy import select
from sqlalchemy.orm import Session

from hitloop.db.engine import Database
from hitloop.db.sql import json_out
from hitloop.db.tables import Event, Project, User
from hitloop.errors import NotFoundError
from hitloop.schemas import AuditEvent, AuditPage, JobOut

__all__ = [
    "AUDIT_COLUMNS",
    "iter_audit_export",
    "iter_instance_audit_export",
    "list_events",
    "list_instance_events",
    "record_event",
    "record_job_event",
]

AUDIT_COLUMNS = ("id", "created_at", "user_id", "username", "action", "object_type", "object_id", "detail")
EXPORT_CHUNK = 5_000


def record_event(
    session: Session,
    user_id: int | None,
    project_id: int | None,
    action: str,
    object_type: str,
    object_id: int | str | None,
    detail: dict[str, Any],
) -> None:
    """Add an event to the caller's transaction (it commits with the change it describes)."""
    session.add(
        Event(
            user_id=user_id,
            project_id=project_id,
            action=action,
            object_type=object_type,
            object_id=None if object_id is None else str(object_id),
            detail=detail,
            created_at=time.time(),
        )
    )


def record_job_event(session: Session, user_id: int | None, action: str, job: JobOut) -> None:
    """``job.<action>`` (request, rerun, cancel) for a job a person queued or stopped."""
    detail: dict[str, Any] = {"kind": job.kind}
    if "rerun_of" in job.args:
        detail["rerun_of"] = job.args["rerun_of"]
    record_event(session, user_id, job.project_id, f"job.{action}", "job", job.id, detail)


def _check_project(s: Session, project_id: int) -> None:
    if s.get(Project, project_id) is None:
        raise NotFoundError(f"project {project_id} not found", field="project_id")


def _query(project_id: int | None) -> Any:
    """The events of one project, or with None those of no project (the instance's)."""
    of = Event.project_id.is_(None) if project_id is None else Event.project_id == project_id
    return (
        select(
            Event.id,
            Event.created_at,
            Event.user_id,
            User.username,
            Event.action,
            Event.object_type,
            Event.object_id,
            Event.detail,
        )
        .outerjoin(User, User.id == Event.user_id)
        .where(of)
    )


def _event(row: Any) -> AuditEvent:
    return AuditEvent(
        id=row.id,
        user_id=row.user_id,
        username=row.username,
        action=row.action,
        object_type=row.object_type,
        object_id=row.object_id,
        detail=json_out(row.detail) or {},
        created_at=row.created_at,
    )


def list_events(db: Database, project_id: int, *, before: int | None = None, limit: int = 50) -> AuditPage:
    """One page of the project's events, newest first; ``before`` is the previous page's ``next_before``."""
    with db.read() as s:
        _check_project(s, project_id)
        return _page(s, project_id, before, limit)


def list_instance_events(db: Database, *, before: int | None = None, limit: int = 50) -> AuditPage:
    """A page of the events of no project (users, sessions, tokens), newest first, as :func:`list_events`."""
    with db.read() as s:
        return _page(s, None, before, limit)


def _page(s: Session, project_id: int | None, before: int | None, limit: int) -> AuditPage:
    query = _query(project_id)
    if before is not None:
        query = query.where(Event.id < before)
    rows = s.execute(query.order_by(Event.id.desc()).limit(limit + 1)).all()
    events = [_event(r) for r in rows[:limit]]
    return AuditPage(events=events, next_before=events[-1].id if len(rows) > limit else None)


def iter_audit_export(db: Database, project_id: int, fmt: Literal["jsonl", "csv"]) -> Iterator[bytes]:
    """The project's whole audit log, oldest first, as JSON lines or CSV (``detail`` as JSON text)."""
    with db.read() as s:
        _check_project(s, project_id)
    return _export(db, project_id, fmt)


def iter_instance_audit_export(db: Database, fmt: Literal["jsonl", "csv"]) -> Iterator[bytes]:
    """The events of no project (users, sessions, tokens), oldest first, as :func:`iter_audit_export`."""
    return _export(db, None, fmt)


def _export(db: Database, project_id: int | None, fmt: str) -> Iterator[bytes]:
    if fmt == "csv":
        yield (",".join(AUDIT_COLUMNS) + "\r\n").encode()
    after = 0
    while True:
        with db.read() as s:
            rows = s.execute(
                _query(project_id).where(Event.id > after).order_by(Event.id).limit(EXPORT_CHUNK)
            ).all()
        if not rows:
            return
        out = io.StringIO()
        writer = csv.writer(out) if fmt == "csv" else None
        for r in rows:
            record = dict(zip(AUDIT_COLUMNS, r, strict=True))
            record["detail"] = json_out(record["detail"]) or {}
            if writer is None:
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
            else:
                writer.writerow(
                    [
                        *(record[c] for c in AUDIT_COLUMNS[:-1]),
                        json.dumps(record["detail"], ensure_ascii=False),
                    ]
                )
        yield out.getvalue().encode()
        after = rows[-1].id
