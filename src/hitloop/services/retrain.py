"""When to retrain: after every N new labels (``retrain_every``) or on demand, never inline.

The submit path only counts labels in memory (:func:`count_label`, inside its
transaction) and, every ``retrain_every`` labels, runs one cheap check after
committing (:func:`enqueue_due`): enough new labels since the last model, and
no train job queued or running for the project? Then it queues one. Training
itself runs on the job runner. Counts live per process; the check against
the database is what decides, so several server processes agree.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select

from hitloop.db.engine import Database
from hitloop.db.tables import Annotation, Job, ModelVersion, Project
from hitloop.errors import NotFoundError
from hitloop.jobs import records
from hitloop.schemas import JobOut
from hitloop.services.audit import record_job_event
from hitloop.services.loop_settings import loop_settings_of
from hitloop.types import TaskType

__all__ = [
    "count_label",
    "enqueue_due",
    "maybe_retrain",
    "remember_threshold",
    "request_training",
    "retrain_due",
]

_COUNTS = "retrain_counts"
_EVERY = "retrain_every"
_DUE = "retrain_due"


def count_label(db: Database, project_id: int) -> None:
    """Count one new label (memory only; safe inside the submit transaction)."""
    counts: dict[int, int] = db.memo.setdefault(_COUNTS, {})
    n = counts.get(project_id, 0) + 1
    counts[project_id] = n
    # Unknown threshold (first label this process sees): check now, which also learns it.
    if n >= db.memo.setdefault(_EVERY, {}).get(project_id, 1):
        db.memo.setdefault(_DUE, set()).add(project_id)


# With automatic retraining off, a process still looks again every this many labels, so it
# notices when another server process turns retraining on (the process that does knows at once).
OFF_RECHECK_EVERY = 1000


def remember_threshold(db: Database, project_id: int, retrain_every: int, *, auto: bool = True) -> None:
    """How many labels this process counts before the next check of ``project_id``."""
    db.memo.setdefault(_EVERY, {})[project_id] = (
        retrain_every if auto else max(retrain_every, OFF_RECHECK_EVERY)
    )


def enqueue_due(db: Database) -> None:
    """After a submit committed: check the projects whose label count reached ``retrain_every``."""
    due: set[int] | None = db.memo.get(_DUE)
    if not due:
        return
    while due:
        try:
            project_id = due.pop()
        except KeyError:  # another thread took it
            return
        _, pending = _check(db, project_id, None)
        # Labels not yet trained on (0 once a job is queued or running) count toward the next check.
        db.memo[_COUNTS][project_id] = pending


def _labels_since_last_model(s: Any, project_id: int) -> int:
    """Answers given since the last model's training set was read.

    Counted above the model's watermark (the highest annotation id it saw), a
    range of the ``(project_id, id)`` index: the cost follows the new labels,
    not the size of the project. (Models from before the watermark: all
    current answers minus the count the model recorded.)
    """
    with_model = s.scalars(
        select(ModelVersion.metrics)
        .where(ModelVersion.project_id == project_id)
        .order_by(ModelVersion.id.desc())
        .limit(1)
    ).first()
    metrics = with_model or {}
    current = [
        Annotation.project_id == project_id,
        Annotation.superseded_by.is_(None),
        Annotation.skipped.is_(False),
    ]
    watermark = metrics.get("last_annotation_id")
    if watermark is not None:
        return int(s.scalar(select(func.count()).where(*current, Annotation.id > int(watermark))) or 0)
    trained_on = int(metrics.get("n_annotations", 0))
    return int(s.scalar(select(func.count()).where(*current)) or 0) - trained_on


def _active_train(s: Any, project_id: int, ignore_job: int | None) -> Job | None:
    query = select(Job).where(
        Job.project_id == project_id, Job.kind == "train", Job.state.in_(records.ACTIVE)
    )
    if ignore_job is not None:
        query = query.where(Job.id != ignore_job)
    found: Job | None = s.scalars(query.order_by(Job.id).limit(1)).first()
    return found


def retrain_due(db: Database, project_id: int) -> bool:
    """Is a retraining due: automatic retraining on, ``retrain_every`` labels since the last model?

    Read-only and cheap (one index range of the new labels): a train job that
    is still writing the tail of its scores asks it between batches.
    """
    with db.read() as s:
        project = s.get(Project, project_id)
        if project is None:
            return False
        loop = loop_settings_of(project.settings)
        return bool(loop.auto_retrain) and _labels_since_last_model(s, project_id) >= loop.retrain_every


def maybe_retrain(db: Database, project_id: int, *, ignore_job: int | None = None) -> JobOut | None:
    """Queue a train job if ``retrain_every`` labels arrived since the last model; None otherwise."""
    return _check(db, project_id, ignore_job)[0]


def _check(db: Database, project_id: int, ignore_job: int | None) -> tuple[JobOut | None, int]:
    """(the job queued or None, labels that still count toward the next job)."""
    with db.write() as s:
        project = s.get(Project, project_id, with_for_update=True)
        # The model loop learns classify projects only; boxes answers must not queue train jobs that fail.
        if project is None or project.task != TaskType.CLASSIFY.value:
            return None, 0
        loop = loop_settings_of(project.settings)
        remember_threshold(db, project_id, loop.retrain_every, auto=loop.auto_retrain)
        if not loop.auto_retrain or _active_train(s, project_id, ignore_job) is not None:
            return None, 0
        since = _labels_since_last_model(s, project_id)
        if since < loop.retrain_every:
            return None, since
        job = records.insert_job(s, "train", project_id, {"reason": "labels"}, None)
    records.wake(db)
    return job, 0


def request_training(
    db: Database, project_id: int, user_id: int | None, *, rerun_of: int | None = None
) -> tuple[JobOut, bool]:
    """Train on demand: (the job, True) if queued now, (the waiting or running one, False) if one exists.

    A new job is written to the audit log (``job.request``, or ``job.rerun`` with ``rerun_of``).
    """
    args: dict[str, Any] = {"reason": "requested"}
    if rerun_of is not None:
        args["rerun_of"] = rerun_of
    with db.write() as s:
        project = s.get(Project, project_id, with_for_update=True)
        if project is None:
            raise NotFoundError(f"project {project_id} not found", field="project_id")
        active = _active_train(s, project_id, None)
        if active is not None:
            return records.job_out(active), False
        job = records.insert_job(s, "train", project_id, args, user_id)
        record_job_event(s, user_id, "request" if rerun_of is None else "rerun", job)
    records.wake(db)
    return job, True
