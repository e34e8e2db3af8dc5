"""Job records on the ``jobs`` table: create, claim, report progress, finish, cancel, re-run.

A job is ``queued`` until a runner claims it (``running``), then ends ``done``,
``failed`` or ``cancelled``. Claims are conditional updates, so two runners
(threads or processes) never run the same job, and a project's jobs run one
at a time. A running job's heartbeat is bumped while it runs; a ``running``
job whose heartbeat is old was cut short by a crash and is marked failed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any, cast

from sqlalchemy import CursorResult, Table, and_, exists, insert, select, text, update
from sqlalchemy.orm import aliased

from hitloop.db.engine import Database
from hitloop.db.tables import Job, Project
from hitloop.errors import ConflictError, NotFoundError
from hitloop.schemas import JobOut

__all__ = [
    "ACTIVE",
    "CANCELLED",
    "DONE",
    "FAILED",
    "QUEUED",
    "RUNNING",
    "cancel",
    "claim",
    "create",
    "finish",
    "get",
    "heartbeat",
    "job_out",
    "list_jobs",
    "mark_interrupted",
    "rerun",
    "set_progress",
    "state_of",
]

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
ACTIVE = (QUEUED, RUNNING)
FINISHED = (DONE, FAILED, CANCELLED)

jobs_t = cast(Table, Job.__table__)

OnChange = Callable[[Any, JobOut], None]
"""Called inside the write transaction with the session and the job (e.g. to add an audit event)."""


def job_out(row: Any) -> JobOut:
    return JobOut(
        id=row.id,
        project_id=row.project_id,
        kind=row.kind,
        args=dict(row.args or {}),
        state=row.state,
        progress=row.progress,
        message=row.message,
        error=row.error,
        result=row.result,
        created_by=row.created_by,
        created_at=row.created_at,
        started_at=row.started_at,
        heartbeat_at=row.heartbeat_at,
        finished_at=row.finished_at,
    )


def insert_job(
    s: Any, kind: str, project_id: int | None, args: dict[str, Any], user_id: int | None
) -> JobOut:
    """Insert a queued job inside the caller's write session."""
    row = s.execute(
        insert(jobs_t)
        .values(
            project_id=project_id,
            kind=kind,
            args=args,
            state=QUEUED,
            progress=0.0,
            message="queued",
            created_by=user_id,
            created_at=time.time(),
        )
        .returning(*jobs_t.c)
    ).one()
    return job_out(row)


def create(
    db: Database,
    kind: str,
    *,
    project_id: int | None = None,
    args: dict[str, Any] | None = None,
    user_id: int | None = None,
    on_change: OnChange | None = None,
) -> JobOut:
    """Queue a job; a runner picks it up (see :mod:`hitloop.jobs.runner`)."""
    with db.write() as s:
        if project_id is not None and s.get(Project, project_id) is None:
            raise NotFoundError(f"project {project_id} not found", field="project_id")
        job = insert_job(s, kind, project_id, args or {}, user_id)
        if on_change is not None:
            on_change(s, job)
    wake(db)
    return job


def wake(db: Database) -> None:
    """Tell this process's runner that a job is waiting (other processes find it by polling)."""
    waker = db.memo.get("jobs_wake")
    if waker is not None:
        waker()


def get(db: Database, job_id: int) -> JobOut:
    with db.read() as s:
        row = s.execute(select(*jobs_t.c).where(jobs_t.c.id == job_id)).first()
    if row is None:
        raise NotFoundError(f"job {job_id} not found", field="job_id")
    return job_out(row)


def state_of(db: Database, job_id: int) -> str | None:
    with db.read() as s:
        return s.scalar(select(jobs_t.c.state).where(jobs_t.c.id == job_id))


def list_jobs(
    db: Database, *, project_id: int | None = None, state: str | None = None, limit: int = 50
) -> list[JobOut]:
    """Newest first."""
    query = select(*jobs_t.c).order_by(jobs_t.c.id.desc()).limit(limit)
    if project_id is not None:
        query = query.where(jobs_t.c.project_id == project_id)
    if state is not None:
        query = query.where(jobs_t.c.state == state)
    with db.read() as s:
        return [job_out(r) for r in s.execute(query)]


_CLAIM_LOCK = 0x6869746C6F6F70  # "hitloop": the advisory lock key that serializes claims


def claim(db: Database, *, job_id: int | None = None, kinds: tuple[str, ...] = ()) -> JobOut | None:
    """Take the oldest queued job (or ``job_id``) whose project has no running job; None if none.

    The claim is a conditional update (``state = 'queued'``), so of two runners
    racing for one job exactly one gets it. On PostgreSQL the claim transaction
    first takes an advisory lock, so claims are serialized across threads and
    processes: without it, two runners reading under READ COMMITTED could each
    see no running job and start two jobs of one project.
    """
    other = aliased(Job)
    busy = exists().where(and_(other.project_id == jobs_t.c.project_id, other.state == RUNNING))
    query = select(jobs_t.c.id).where(jobs_t.c.state == QUEUED, ~busy).order_by(jobs_t.c.id).limit(5)
    if job_id is not None:
        query = query.where(jobs_t.c.id == job_id)
    if kinds:
        query = query.where(jobs_t.c.kind.in_(kinds))
    now = time.time()
    with db.write() as s:
        if s.get_bind().dialect.name == "postgresql":
            s.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CLAIM_LOCK})
        for candidate in s.scalars(query).all():
            done = s.execute(
                update(jobs_t)
                .where(jobs_t.c.id == candidate, jobs_t.c.state == QUEUED)
                .values(state=RUNNING, started_at=now, heartbeat_at=now, message="started")
                .returning(*jobs_t.c)
            ).first()
            if done is not None:
                return job_out(done)
    return None


def set_progress(db: Database, job_id: int, fraction: float, message: str) -> None:
    with db.write() as s:
        s.execute(
            update(jobs_t)
            .where(jobs_t.c.id == job_id, jobs_t.c.state == RUNNING)
            .values(progress=fraction, message=message[:2000], heartbeat_at=time.time())
        )


def heartbeat(db: Database, job_ids: list[int]) -> None:
    if not job_ids:
        return
    with db.write() as s:
        s.execute(
            update(jobs_t)
            .where(jobs_t.c.id.in_(job_ids), jobs_t.c.state == RUNNING)
            .values(heartbeat_at=time.time())
        )


def finish(
    db: Database,
    job_id: int,
    state: str,
    *,
    result: dict[str, Any] | None = None,
    error: str | None = None,
    message: str = "",
) -> bool:
    """End a running job; False when it had already ended (e.g. cancelled meanwhile)."""
    values: dict[str, Any] = {"state": state, "finished_at": time.time(), "message": message[:2000]}
    if state == DONE:
        values["progress"] = 1.0
    if result is not None:
        values["result"] = result
    if error is not None:
        values["error"] = error[:4000]
    with db.write() as s:
        outcome = s.execute(
            update(jobs_t).where(jobs_t.c.id == job_id, jobs_t.c.state == RUNNING).values(**values)
        )
        return bool(cast(CursorResult[Any], outcome).rowcount)


def cancel(db: Database, job_id: int, *, on_change: OnChange | None = None) -> JobOut:
    """Cancel a queued job at once; a running one stops at its next cancellation check."""
    with db.write() as s:
        row = s.execute(select(jobs_t.c.state).where(jobs_t.c.id == job_id)).first()
        if row is None:
            raise NotFoundError(f"job {job_id} not found", field="job_id")
        if row.state in FINISHED:
            raise ConflictError(f"job {job_id} already ended ({row.state})", field="job_id")
        s.execute(
            update(jobs_t)
            .where(jobs_t.c.id == job_id, jobs_t.c.state.in_(ACTIVE))
            .values(state=CANCELLED, finished_at=time.time(), message="cancelled")
        )
        if on_change is not None:
            on_change(s, job_out(s.execute(select(jobs_t).where(jobs_t.c.id == job_id)).one()))
    return get(db, job_id)


def rerun(
    db: Database, job_id: int, user_id: int | None = None, *, on_change: OnChange | None = None
) -> JobOut:
    """Queue a new job with the kind and arguments of an ended one."""
    old = get(db, job_id)
    if old.state in ACTIVE:
        raise ConflictError(f"job {job_id} is still {old.state}", field="job_id")
    return create(
        db,
        old.kind,
        project_id=old.project_id,
        args={**old.args, "rerun_of": job_id},
        user_id=user_id,
        on_change=on_change,
    )


def mark_interrupted(db: Database, *, stale_after_s: float) -> int:
    """Fail ``running`` jobs whose heartbeat stopped ``stale_after_s`` ago (a crash); returns how many."""
    now = time.time()
    with db.write() as s:
        outcome = s.execute(
            update(jobs_t)
            .where(jobs_t.c.state == RUNNING, jobs_t.c.heartbeat_at < now - stale_after_s)
            .values(
                state=FAILED,
                finished_at=now,
                error="interrupted: the process running this job stopped; re-run it",
                message="interrupted",
            )
        )
        return int(cast(CursorResult[Any], outcome).rowcount or 0)
