"""A project's team settings: overlap, adaptive overlap, gold items, who sees what.

``overlap`` and ``overlap_max`` (adaptive) and ``gold_rate`` are columns (the
queue reads them on every request); the rest live in ``projects.settings``.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import update

from hitloop.db.engine import Database, DriverConnection
from hitloop.db.sql import json_out
from hitloop.db.tables import Project
from hitloop.errors import InputError, NotFoundError
from hitloop.schemas import TeamSettings, TeamSettingsUpdate
from hitloop.services.audit import record_event

__all__ = ["DEFAULTS", "get_team_settings", "read_settings", "update_team_settings"]

# Defaults of the keys kept in projects.settings.
DEFAULTS: dict[str, Any] = {
    "overlap_agreement": 1.0,
    "annotator_visibility": "own",
    "gold_min_answers": 10,
    "gold_pause_below": 0.6,
}


def read_settings(raw: Any) -> dict[str, Any]:
    """The team keys of a ``projects.settings`` value, defaults filled in."""
    stored = json_out(raw) or {}
    return {key: stored.get(key, default) for key, default in DEFAULTS.items()}


def _out(row: Project) -> TeamSettings:
    return TeamSettings(
        overlap=row.overlap,
        overlap_max=max(row.overlap, row.overlap_max),
        gold_rate=row.gold_rate,
        **read_settings(row.settings),
    )


def get_team_settings(db: Database, project_id: int) -> TeamSettings:
    with db.read() as s:
        row = s.get(Project, project_id)
        if row is None:
            raise NotFoundError(f"project {project_id} not found", field="project_id")
        return _out(row)


def update_team_settings(
    db: Database, actor_id: int | None, project_id: int, change: TeamSettingsUpdate
) -> TeamSettings:
    """Change some settings. A new overlap returns every outstanding hold to the queue."""
    from hitloop.services.overlap import reset_project_leases

    given = change.model_dump(exclude_none=True)
    with db.write() as s:
        row = s.get(Project, project_id)
        if row is None:
            raise NotFoundError(f"project {project_id} not found", field="project_id")
        overlap = given.get("overlap", row.overlap)
        overlap_max = given.get("overlap_max", max(row.overlap_max, overlap))
        if overlap_max < overlap:
            raise InputError(f"overlap_max ({overlap_max}) is below overlap ({overlap})", field="overlap_max")
        moved = (overlap, overlap_max) != (row.overlap, max(row.overlap, row.overlap_max))
        settings = dict(json_out(row.settings) or {})
        settings.update({k: v for k, v in given.items() if k in DEFAULTS})
        s.execute(
            update(Project)
            .where(Project.id == project_id)
            .values(
                overlap=overlap,
                overlap_max=overlap_max,
                gold_rate=given.get("gold_rate", row.gold_rate),
                settings=settings,
            )
        )
        if moved:
            raw = s.connection().connection.driver_connection
            reset_project_leases(
                DriverConnection(raw, db.engine.dialect.name), project_id, overlap, overlap_max
            )
        record_event(s, actor_id, project_id, "project.team_settings", "project", project_id, given)
        s.flush()
        s.refresh(row)
        return _out(row)
