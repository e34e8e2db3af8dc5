"""A project's model-loop settings: strategy, learner, retraining cadence (in ``projects.settings``)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from hitloop import plugins
from hitloop.db.engine import Database
from hitloop.db.tables import Project
from hitloop.errors import InputError, NotFoundError
from hitloop.ml.defaults import default_learner, default_strategy_name
from hitloop.schemas import LoopSettings, LoopSettingsUpdate
from hitloop.services.audit import record_event

__all__ = [
    "DEFAULT_BATCH",
    "DEFAULT_LEARNER",
    "DEFAULT_RETRAIN_EVERY",
    "build_learner",
    "build_strategy",
    "get_loop_settings",
    "loop_settings_of",
    "update_loop_settings",
]

DEFAULT_RETRAIN_EVERY = 20
DEFAULT_BATCH = 20
DEFAULT_LEARNER = "default"
"""The modality's default learner (:func:`hitloop.ml.defaults.default_learner`)."""


def loop_settings_of(settings: dict[str, Any] | None, modality: str | None = None) -> LoopSettings:
    """The loop settings stored in a project's settings JSON, with defaults filled in.

    The default strategy depends on the project's ``modality``
    (:func:`hitloop.ml.defaults.default_strategy_name`); None or an unknown
    modality gets the general default.
    """
    s = settings or {}
    try:
        strategy = default_strategy_name(modality)
    except ValueError:
        strategy = default_strategy_name(None)
    return LoopSettings(
        strategy=str(s.get("strategy") or strategy),
        learner=str(s.get("learner") or DEFAULT_LEARNER),
        learner_params=dict(s.get("learner_params") or {}),
        retrain_every=int(s.get("retrain_every") or DEFAULT_RETRAIN_EVERY),
        auto_retrain=bool(s.get("auto_retrain", True)),
        batch=int(s.get("batch") or DEFAULT_BATCH),
    )


def get_loop_settings(db: Database, project_id: int) -> LoopSettings:
    with db.read() as s:
        row = s.execute(select(Project.settings, Project.modality).where(Project.id == project_id)).first()
    if row is None:
        raise NotFoundError(f"project {project_id} not found", field="project_id")
    return loop_settings_of(row.settings, row.modality)


def build_learner(modality: str, labels: list[str], loop: LoopSettings) -> Any:
    """An unfitted learner over the project's classes, as the settings name it."""
    if loop.learner == DEFAULT_LEARNER:
        if loop.learner_params:
            raise InputError("the default learner takes no parameters", field="learner_params")
        try:
            return default_learner(modality, classes=labels)
        except ValueError as exc:
            raise InputError(str(exc), field="modality") from None
    learner = plugins.make_learner(loop.learner, **loop.learner_params)
    if "classes" in getattr(learner, "get_params", dict)():
        learner.set_params(classes=list(labels))
    return learner


def build_strategy(loop: LoopSettings) -> Any:
    try:
        return plugins.make_strategy(loop.strategy)
    except InputError as exc:
        exc.field = "strategy"
        raise


def _validate(modality: str, labels: list[str], loop: LoopSettings) -> None:
    try:
        build_learner(modality, labels, loop)
    except InputError as exc:
        exc.field = exc.field if exc.field == "learner_params" else "learner"
        raise
    build_strategy(loop)


def update_loop_settings(
    db: Database, project_id: int, user_id: int | None, patch: LoopSettingsUpdate
) -> LoopSettings:
    """Change some loop settings; unknown names and bad parameters change nothing."""
    changes = patch.model_dump(exclude_none=True)
    with db.write() as s:
        project = s.get(Project, project_id, with_for_update=True)
        if project is None:
            raise NotFoundError(f"project {project_id} not found", field="project_id")
        merged = {**(project.settings or {}), **changes}
        if "learner" in changes and "learner_params" not in changes:
            merged["learner_params"] = {}
        loop = loop_settings_of(merged, project.modality)
        _validate(project.modality, list(project.labels), loop)
        project.settings = merged
        record_event(s, user_id, project_id, "project.loop_settings", "project", project_id, changes)
    from hitloop.services import retrain

    retrain.remember_threshold(db, project_id, loop.retrain_every, auto=loop.auto_retrain)
    return loop
