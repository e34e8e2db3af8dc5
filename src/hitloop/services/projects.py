"""Create, list and describe projects."""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

from sqlalchemy import func, select

from hitloop.db.engine import Database
from hitloop.db.tables import Annotation, Item, Membership, Project
from hitloop.errors import InputError, NotFoundError
from hitloop.schemas import ProjectCreate, ProjectOut, ProjectStats
from hitloop.services.audit import record_event
from hitloop.types import ItemState, Modality, TaskType, validate_labels

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

    ``answers_of`` (policy.answers_of): the label distribution counts only that person's
    answers (an annotator who may not read everyone's); None counts everyone's.
    """
    with db.read() as s:
        row = s.get(Project, project_id)
        if row is None:
            raise NotFoundError(f"project {project_id} not found", field="project_id")
        stats = _stats(s, row, sees_gold, answers_of) if with_stats else None
        return project_out(row, stats)


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
    where the caller may read everyone's answers (None: all); elsewhere the label
    distribution counts only ``viewer_id``'s answers (none without a viewer).
    """
    with db.read() as s:
        query = select(Project).order_by(Project.id)
        if only is not None:
            query = query.where(Project.id.in_(sorted(only)))
        rows = list(s.scalars(query))
        out = []
        for r in rows:
            stats = None
            if with_stats:
                sees_gold = gold_seen_in is None or r.id in gold_seen_in
                everyone = answers_seen_in is None or r.id in answers_seen_in
                # (No viewer: 0 is nobody's id, so nobody's answers are counted.)
                stats = _stats(s, r, sees_gold, None if everyone else viewer_id or 0)
            out.append(project_out(r, stats))
        return out


def project_stats(db: Database, project_id: int) -> ProjectStats:
    return get_project(db, project_id, with_stats=True).stats  # type: ignore[return-value]


def _stats(s: Any, project: Project, sees_gold: bool = True, answers_of: int | None = None) -> ProjectStats:
    by_state = dict(
        s.execute(
            select(Item.state, func.count())
            .where(Item.project_id == project.id, Item.state != ItemState.STAGED)
            .group_by(Item.state)
        ).all()
    )
    n_gold = by_state.pop(ItemState.GOLD.value, 0)
    labeled = by_state.get(ItemState.DONE.value, 0)
    total = sum(by_state.values())
    if not sees_gold and n_gold:
        # To those who may not tell gold apart, a gold item counts as a regular item would:
        # in the total, and labeled once it has the project's overlap of answers.
        total += n_gold
        labeled += (
            s.scalar(
                select(func.count()).where(
                    Item.project_id == project.id,
                    Item.state == ItemState.GOLD,
                    Item.n_answers >= project.overlap,
                )
            )
            or 0
        )
    # (Otherwise gold items are checks on people, not work to do: they stay out of the progress.)
    active = (Annotation.project_id == project.id) & Annotation.superseded_by.is_(None)
    annotations = s.scalar(select(func.count()).where(active, Annotation.skipped.is_(False))) or 0
    skipped = s.scalar(select(func.count()).where(active, Annotation.skipped.is_(True))) or 0
    # The label distribution shows answers themselves: to those who may read only their own
    # (annotators, unless the project's annotator_visibility is "all"), only their own.
    counted = active & Annotation.skipped.is_(False)
    if answers_of is not None:
        counted = counted & (Annotation.user_id == answers_of)
    distribution: Counter[str] = Counter({name: 0 for name in project.labels})
    if project.task == TaskType.CLASSIFY.value:
        for label, count in s.execute(
            select(Annotation.label, func.count()).where(counted).group_by(Annotation.label)
        ):
            distribution[label] += count
    else:
        for value in s.scalars(select(Annotation.value).where(counted)):
            value = value or {}
            distribution.update(value.get("labels") or [b["label"] for b in value.get("boxes", [])])
    return ProjectStats(
        total=total,
        labeled=labeled,
        skipped=skipped,
        annotations=annotations,
        distribution=dict(distribution),
    )
