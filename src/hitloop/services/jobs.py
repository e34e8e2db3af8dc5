"""The model loop's job kinds, and queueing them on demand."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from hitloop.db.engine import Database
from hitloop.errors import ConflictError, InputError, MissingExtraError
from hitloop.jobs import JobRegistry, records
from hitloop.schemas import JobOut
from hitloop.services.audit import record_job_event
from hitloop.services.boxes import check_faces_request, faces_job
from hitloop.services.features import featurize_job
from hitloop.services.scoring import score_job
from hitloop.services.speech import transcribe_job
from hitloop.services.training import train_job

__all__ = ["ON_DEMAND", "audit_job", "builtin_jobs", "cancel_job", "request_job", "rerun_job"]

ON_DEMAND = ("featurize", "score", "faces", "transcribe")
"""Kinds a person may queue directly (training goes through :func:`~.retrain.request_training`)."""

# The arguments each on-demand kind reads (hitloop.services.boxes.faces_job, speech.transcribe_job),
# and what each must be; checked when the job is asked for, so a typo is a 422, not a failed job.
_ARGS: dict[str, dict[str, tuple[str, Callable[[Any], bool]]]] = {
    "featurize": {},
    "score": {},
    "faces": {
        "label": ("a label name", lambda v: isinstance(v, str)),
        "redo": ("true or false", lambda v: isinstance(v, bool)),
        "params": ("an object of detector parameters", lambda v: isinstance(v, dict)),
    },
    "transcribe": {
        "redo": ("true or false", lambda v: isinstance(v, bool)),
        "limit": ("a positive integer", lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= 1),
    },
}


def builtin_jobs() -> JobRegistry:
    """featurize (features on disk, then a new order), train (model version + scoring), score;
    faces (face boxes as suggestions on a boxes project, hitloop.services.boxes);
    transcribe (speech-recognizer drafts on a transcribe project, hitloop.services.speech)."""
    registry = JobRegistry()
    registry.register("featurize", featurize_job)
    registry.register("train", train_job)
    registry.register("score", score_job)
    registry.register("faces", faces_job)
    registry.register("transcribe", transcribe_job)
    return registry


def audit_job(action: str, user_id: int | None) -> records.OnChange:
    """An audit event ``job.<action>`` for the job, added in the transaction that changes it."""

    def add(s: Any, job: JobOut) -> None:
        record_job_event(s, user_id, action, job)

    return add


def request_job(
    db: Database, kind: str, project_id: int, user_id: int | None, args: dict[str, Any] | None = None
) -> JobOut:
    if kind not in ON_DEMAND:
        raise InputError(f"unknown job kind {kind!r}; known: {', '.join(ON_DEMAND)}", field="kind")
    args = args or {}
    _check_args(kind, args)
    if kind == "faces":  # the project's label and the detector's settings, before anything is queued
        try:
            check_faces_request(db, project_id, label=args.get("label"), params=args.get("params"))
        except MissingExtraError as exc:
            raise InputError(f"this server cannot detect faces: {exc}", field="kind") from None
        except InputError as exc:
            field = exc.field if exc.field in (None, "project_id") else f"args.{exc.field}"
            raise InputError(exc.message, field=field) from None
    return records.create(
        db, kind, project_id=project_id, args=args, user_id=user_id, on_change=audit_job("request", user_id)
    )


def _check_args(kind: str, args: dict[str, Any]) -> None:
    known = _ARGS[kind]
    for name, value in args.items():
        if name not in known:
            takes = f"takes {', '.join(known)}" if known else "takes no arguments"
            raise InputError(f"a {kind} job has no argument {name!r}; it {takes}", field=f"args.{name}")
        expected, check = known[name]
        if not check(value):
            raise InputError(f"{name} must be {expected}", field=f"args.{name}")


def cancel_job(db: Database, job_id: int, user_id: int | None) -> JobOut:
    """Cancel a job (see :func:`hitloop.jobs.records.cancel`), with an audit event."""
    return records.cancel(db, job_id, on_change=audit_job("cancel", user_id))


def rerun_job(db: Database, job_id: int, user_id: int | None) -> JobOut:
    """Queue an ended job again, with an audit event. Training goes through
    :func:`~.retrain.request_training`, so a project never trains twice at once."""
    old = records.get(db, job_id)
    if old.kind == "train" and old.project_id is not None and old.state not in records.ACTIVE:
        from hitloop.services import retrain

        new, created = retrain.request_training(db, old.project_id, user_id, rerun_of=job_id)
        if not created:
            raise ConflictError(f"job {new.id} already trains this project", field="job_id")
        return new
    return records.rerun(db, job_id, user_id, on_change=audit_job("rerun", user_id))
