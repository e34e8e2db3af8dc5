"""Create, list and describe projects."""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from typing import Any

from sqlalchemy import BindParameter, and_, bindparam, case, func, or_, select, text, true

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
        stats = _stats(s, [row], {row.id}, {row.id} if sees_gold else set(), own, answers_of)
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
    viewer). The stats of all the projects come from the same few grouped queries.
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
        stats = _stats(s, rows, only, ids if gold_seen_in is None else gold_seen_in, own, viewer_id)
        return [project_out(r, stats[r.id]) for r in rows]


def project_stats(db: Database, project_id: int) -> ProjectStats:
    return get_project(db, project_id, with_stats=True).stats  # type: ignore[return-value]


# The labels chosen in the current multilabel and boxes answers, counted in the database
# (a row per project and label) rather than by loading every answer's JSON. A multilabel
# answer is {"labels": [names]}, a boxes answer {"boxes": [{..., "label"}]}
# (types.validate_value); transcribe answers hold no labels.
_CHOSEN = {
    "sqlite": (
        "SELECT a.project_id, j.value AS label, count(*) AS n"
        " FROM annotations a JOIN projects p ON p.id = a.project_id, json_each(a.value, '$.labels') j"
        " WHERE p.task = 'multilabel' AND a.superseded_by IS NULL AND NOT a.skipped {where}"
        " GROUP BY a.project_id, j.value"
        " UNION ALL "
        "SELECT a.project_id, json_extract(j.value, '$.label') AS label, count(*) AS n"
        " FROM annotations a JOIN projects p ON p.id = a.project_id, json_each(a.value, '$.boxes') j"
        " WHERE p.task = 'boxes' AND a.superseded_by IS NULL AND NOT a.skipped {where}"
        " GROUP BY a.project_id, json_extract(j.value, '$.label')"
    ),
    "postgresql": (
        "SELECT a.project_id, j.label, count(*) AS n"
        " FROM annotations a JOIN projects p ON p.id = a.project_id"
        " CROSS JOIN LATERAL jsonb_array_elements_text(a.value -> 'labels') AS j(label)"
        " WHERE p.task = 'multilabel' AND a.superseded_by IS NULL AND NOT a.skipped {where}"
        " GROUP BY a.project_id, j.label"
        " UNION ALL "
        "SELECT a.project_id, j.box ->> 'label' AS label, count(*) AS n"
        " FROM annotations a JOIN projects p ON p.id = a.project_id"
        " CROSS JOIN LATERAL jsonb_array_elements(a.value -> 'boxes') AS j(box)"
        " WHERE p.task = 'boxes' AND a.superseded_by IS NULL AND NOT a.skipped {where}"
        " GROUP BY a.project_id, j.box ->> 'label'"
    ),
}


def _stats(
    s: Any,
    rows: list[Project],
    scope: set[int] | None,
    gold_seen_in: set[int],
    own_only: set[int],
    viewer: int | None,
) -> dict[int, ProjectStats]:
    """The stats of ``rows`` from four queries, however many rows there are.

    ``scope``: project ids the queries may keep to (None: every project is listed).
    ``gold_seen_in``: where gold items are told apart. ``own_only``: where only ``viewer``'s
    answers count (answers, skips, label distribution); elsewhere everyone's do.
    """
    # Which answers count, as a condition on the rows: in the own_only projects the viewer's
    # alone (no viewer: 0 is nobody's id), so each project's groups count the right answers.
    who = viewer if viewer is not None else 0
    conditions: list[Any] = []
    where: list[str] = []
    params: dict[str, Any] = {}
    expanding: list[BindParameter[Any]] = []
    if scope is not None:
        conditions.append(Annotation.project_id.in_(sorted(scope)))
        where.append("AND a.project_id IN :scope")
        params["scope"] = sorted(scope)
        expanding.append(bindparam("scope", expanding=True))
    if own_only and own_only == {r.id for r in rows}:  # (all of them, e.g. the one project)
        conditions.append(Annotation.user_id == who)
        where.append("AND a.user_id = :viewer")
        params["viewer"] = who
    elif own_only:
        conditions.append(or_(Annotation.user_id == who, Annotation.project_id.not_in(sorted(own_only))))
        where.append("AND (a.user_id = :viewer OR a.project_id NOT IN :own)")
        params.update(viewer=who, own=sorted(own_only))
        expanding.append(bindparam("own", expanding=True))
    counted = and_(Annotation.superseded_by.is_(None), *conditions)

    # Items by state; "reached" counts those with the project's overlap of answers.
    reached = func.sum(case((Item.n_answers >= Project.overlap, 1), else_=0))
    in_scope = Item.project_id.in_(sorted(scope)) if scope is not None else true()
    by_state: dict[int, dict[str, tuple[int, int]]] = defaultdict(dict)
    for pid, state, n, n_reached in s.execute(
        select(Item.project_id, Item.state, func.count(), reached)
        .join(Project, Project.id == Item.project_id)
        .where(in_scope, Item.state != ItemState.STAGED)
        .group_by(Item.project_id, Item.state)
    ):
        by_state[pid][state] = (n, int(n_reached or 0))

    answers: dict[tuple[int, bool], int] = {}
    for pid, skipped, n in s.execute(
        select(Annotation.project_id, Annotation.skipped, func.count())
        .where(counted)
        .group_by(Annotation.project_id, Annotation.skipped)
    ):
        answers[pid, bool(skipped)] = n

    chosen: dict[int, list[tuple[str, int]]] = defaultdict(list)
    # A classify answer's label has a column of its own: counting it reads no JSON.
    for pid, label, n in s.execute(
        select(Annotation.project_id, Annotation.label, func.count())
        .join(Project, Project.id == Annotation.project_id)
        .where(
            counted,
            Project.task == TaskType.CLASSIFY.value,
            Annotation.skipped.is_(False),
            Annotation.label.is_not(None),
        )
        .group_by(Annotation.project_id, Annotation.label)
    ):
        chosen[pid].append((label, n))
    sql = _CHOSEN[s.get_bind().dialect.name].replace("{where}", " ".join(where))
    for pid, label, n in s.execute(text(sql).bindparams(*expanding), params):
        if label is not None:
            chosen[pid].append((label, n))

    out = {}
    for row in rows:
        states = by_state.get(row.id, {})
        n_gold, gold_reached = states.pop(ItemState.GOLD.value, (0, 0))
        labeled = states.get(ItemState.DONE.value, (0, 0))[0]
        total = sum(n for n, _ in states.values())
        if row.id not in gold_seen_in:
            # To those who may not tell gold apart, a gold item counts as a regular item would:
            # in the total, and labeled once it has the project's overlap of answers.
            total += n_gold
            labeled += gold_reached
        # (Otherwise gold items are checks on people, not work to do: they stay out of the progress.)
        # Item progress is the project's for everyone: it shows work done, not answers. The
        # answers, skips and label distribution show answers themselves: to those who may read
        # only their own (annotators, unless annotator_visibility is "all"), only their own.
        distribution: Counter[str] = Counter({name: 0 for name in row.labels})
        for label, n in chosen.get(row.id, []):
            distribution[label] += n
        out[row.id] = ProjectStats(
            total=total,
            labeled=labeled,
            skipped=answers.get((row.id, True), 0),
            annotations=answers.get((row.id, False), 0),
            distribution=dict(distribution),
        )
    return out
