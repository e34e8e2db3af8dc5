"""The model loop's job kinds, and queueing them on demand."""

from __future__ import annotations

from hitloop.db.engine import Database
from hitloop.errors import InputError
from hitloop.jobs import JobRegistry, records
from hitloop.schemas import JobOut
from hitloop.services.boxes import faces_job
from hitloop.services.features import featurize_job
from hitloop.services.scoring import score_job
from hitloop.services.speech import transcribe_job
from hitloop.services.training import train_job

__all__ = ["ON_DEMAND", "builtin_jobs", "request_job"]

ON_DEMAND = ("featurize", "score", "faces", "transcribe")
"""Kinds a person may queue directly (training goes through :func:`~.retrain.request_training`)."""


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


def request_job(db: Database, kind: str, project_id: int, user_id: int | None) -> JobOut:
    if kind not in ON_DEMAND:
        raise InputError(f"unknown job kind {kind!r}; known: {', '.join(ON_DEMAND)}", field="kind")
    return records.create(db, kind, project_id=project_id, user_id=user_id)
