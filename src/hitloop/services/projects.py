"""Create, list and describe projects."""

from __future__ import annotations

import time

from sqlalchemy import select

from hitloop.db.engine import Database
from hitloop.db.tables import Membership, Project
from hitloop.errors import InputError, NotFoundError
from hitloop.schemas import ProjectCreate, ProjectOut, ProjectStats
from hitloop.services.audit import record_event
from hitloop.services.project_stats import project_stats_of
from hitloop.types import Modality, TaskType, validate_labels

__all__ = ["create_project", "get_project", "list_projects", "project_out", "project_stats"]


def project_out(row: Project, stats: ProjectStats | None = None) -> ProjectOut:
    return ProjectOut(
        id=row.id,
        name=row.name,
        task=TaskType(row.task),
        modality=Modality(row.modality),
        labels=list(row.labels),
        instructions=row.instructions,
        created_at=row.created_at,
        stats=stats,
    )


def create_project(db: Database, user_id: int | None, spec: ProjectCreate) -> ProjectOut:
    name = spec.name.strip()
    if not name:
        raise InputError("a project needs a name", field="name")
    if TaskType(spec.task) is TaskType.TRANSCRIBE:
        # A transcript is free text: no label set, and only recordings have speech.
        if Modality(spec.modality) is not Modality.AUDIO:
            raise InputError("a transcribe project needs modality audio", field="modality")
        labels = validate_labels(spec.labels) if spec.labels else []
    else:
        labels = validate_labels(spec.labels)
    if TaskType(spec.task) is TaskType.BOXES and Modality(spec.modality) is not Modality.IMAGE:
        raise InputError("a boxes project holds images (modality image)", field="modality")
    now = time.time()
    with db.write() as s:
        row = Project(
            name=name,
            task=TaskType(spec.task).value,
            modality=Modality(spec.modality).value,
            labels=labels,
            instructions=spec.instructions,
            settings={},
            overlap=1,
            created_by=user_id,
            created_at=now,
        )
        s.add(row)
        s.flush()
        if user_id is not None:
            s.add(Membership(project_id=row.id, user_id=user_id, role="owner", created_at=now))
        record_event(s, user_id, row.id, "project.create", "project", row.id, {"name": name})
        return project_out(row)


def get_project(
    db: Database,
    project_id: int,
    *,
    with_stats: bool = False,
    sees_gold: bool = True,
    answers_of: int | None = None,
) -> ProjectOut:
    """``sees_gold`` False (below managers): the stats count gold items as regular ones.

    ``answers_of`` (policy.answers_of): the answer and skip counts and the label distribution
    count only that person's answers (an annotator who may not read everyone's); None counts
    everyone's. Item progress (total, labeled) is the project's either way.
    """
    with db.read() as s:
        row = s.get(Project, project_id)
        if row is None:
            raise NotFoundError(f"project {project_id} not found", field="project_id")
        if not with_stats:
            return project_out(row)
        own = set() if answers_of is None else {row.id}
        stats = project_stats_of(s, db, [row], {row.id} if sees_gold else set(), own, answers_of)
        return project_out(row, stats[row.id])


def list_projects(
    db: Database,
    *,
    with_stats: bool = True,
    only: set[int] | None = None,
    gold_seen_in: set[int] | None = None,
    answers_seen_in: set[int] | None = None,
    viewer_id: int | None = None,
) -> list[ProjectOut]:
    """Every project, or those whose ids are in ``only`` (the caller's, from the policy).

    ``gold_seen_in``: the projects whose gold items the caller may tell apart (None: all);
    elsewhere the stats count gold items as regular ones. ``answers_seen_in``: the projects
    where the caller may read everyone's answers (None: all); elsewhere the answer and skip
    counts and the label distribution count only ``viewer_id``'s answers (none without a
    viewer). The stats of all the projects come from the same few grouped queries
    (kept ones reused: services/project_stats.py).
    """
    with db.read() as s:
        query = select(Project).order_by(Project.id)
        if only is not None:
            query = query.where(Project.id.in_(sorted(only)))
        rows = list(s.scalars(query))
        if not with_stats or not rows:
            return [project_out(r) for r in rows]
        ids = {r.id for r in rows}
        own = set() if answers_seen_in is None else ids - answers_seen_in
        stats = project_stats_of(s, db, rows, ids if gold_seen_in is None else gold_seen_in, own, viewer_id)
        return [project_out(r, stats[r.id]) for r in rows]


def project_stats(db: Database, project_id: int) -> ProjectStats:
    return get_project(db, project_id, with_stats=True).stats  # type: ignore[return-value]
