"""Project stats (item progress, answers, skips, label distribution) for each viewer's scope.

Counting a project's answers is a scan that grows with the project (about 2 µs an
answer, ``benchmarks/project_stats.py``), so the counts are kept per project and
viewer scope (whether gold items are told apart; everyone's answers or one
person's) in a :class:`~hitloop.services.state_cache.StateCache`, with the
project's answer state (newest answer id, newest audit event id: two index
seeks). A view whose state matches gets the kept counts: exact. Every change
that moves the counts moves that state: answers and edits add answer rows;
reviews, item additions and finished imports, gold marking, team settings and
member changes are audited events. Leases never change the counts (the item
progress counts done items among all the others).

While people label, the state moves on every answer. Kept counts whose state
moved are then still served while younger than :meth:`Staleness.max_age` of
their counting time (max(1 s, 10x), at most 30 s; never for counts of fewer than
50,000 items and answers, which are always recounted), so counting a big project
takes at most about a tenth of a core per scope however many people look at it;
such counts carry ``as_of``, the time they were taken. Counts whose state held are
counted once more after :data:`~hitloop.services.state_cache.SETTLE_S` (an answer
committed out of id order on PostgreSQL), as every ``StateCache`` result is.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Hashable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BindParameter, and_, bindparam, func, literal, or_, select, text, union_all

from hitloop.db.engine import Database
from hitloop.db.tables import Annotation, Item, Project
from hitloop.schemas import ProjectStats
from hitloop.services.state_cache import Kept, StateCache, answer_states
from hitloop.types import ItemState, TaskType

__all__ = ["Staleness", "project_stats_of"]


@dataclass(frozen=True)
class Staleness:
    """How long kept counts may be served after their project's state moved.

    ``min_rows``: counts of fewer rows (items plus counted answers) are recounted on every
    change, always exact (a small project's count is cheap, and exactness there does not
    depend on the machine's load). Bigger ones: max(``floor_s``, ``factor`` x the counting
    time), at most ``cap_s``.
    """

    min_rows: int = 50_000
    floor_s: float = 1.0
    factor: float = 10.0
    cap_s: float = 30.0

    def max_age(self, cost_s: float, rows: int) -> float:
        """Seconds counts of ``rows`` rows that took ``cost_s`` may be served once their state moved."""
        if rows < self.min_rows:
            return 0.0
        return min(self.cap_s, max(self.floor_s, self.factor * cost_s))


STALENESS = Staleness()


@dataclass(frozen=True)
class _Counts:
    total: int
    labeled: int
    skipped: int
    annotations: int
    chosen: tuple[tuple[str, int], ...]  # (label, count), a label may repeat

    @property
    def rows(self) -> int:
        return self.total + self.skipped + self.annotations


_CACHE: StateCache[_Counts] = StateCache(entries=1024)


def project_stats_of(
    s: Any,
    db: Database,
    rows: list[Project],
    gold_seen_in: set[int],
    own_only: set[int],
    viewer: int | None,
) -> dict[int, ProjectStats]:
    """The stats of ``rows``: kept counts where still good, the others from three grouped queries.

    ``gold_seen_in``: where gold items are told apart. ``own_only``: where only ``viewer``'s
    answers count (answers, skips, label distribution); elsewhere everyone's do.
    """
    # The key holds the scope, so one person's counts never reach another: ("own", None) is
    # the scope of nobody's answers (an own-answers view without a viewer).
    keys: dict[int, Hashable] = {
        r.id: (r.id, r.id in gold_seen_in, ("own", viewer) if r.id in own_only else "all") for r in rows
    }
    # The states first, then the counts (StateCache.get's order): an answer landing in between
    # is in the counts but not in their state, so the next view counts again.
    states = answer_states(s, keys.keys())
    found = _usable(db, keys, states)
    stale = [r for r in rows if r.id not in found]
    if stale:
        with _CACHE.computing(db, [keys[r.id] for r in stale]):
            found.update(_usable(db, {r.id: keys[r.id] for r in stale}, states))  # counted meanwhile?
            stale = [r for r in stale if r.id not in found]
            if stale:
                at, start = _CACHE.clock(), time.perf_counter()
                counted = _count(s, stale, gold_seen_in, own_only, viewer)
                cost = time.perf_counter() - start
                for r in stale:
                    _CACHE.keep(db, keys[r.id], states.get(r.id), counted[r.id], at, cost)
                    found[r.id] = (counted[r.id], None)
    return {r.id: _stats(r, *found[r.id]) for r in rows}


def _usable(
    db: Database, keys: dict[int, Hashable], states: dict[int, Any]
) -> dict[int, tuple[_Counts, float | None]]:
    """The kept counts that may be served: (counts, None) when exact, (counts, when taken) when not."""
    now = _CACHE.clock()
    out: dict[int, tuple[_Counts, float | None]] = {}
    for pid, key in keys.items():
        kept: Kept[_Counts] | None = _CACHE.find(db, key)
        if kept is None:
            continue
        if kept.state == states.get(pid):  # exact, unless its state held long enough to count again
            if _CACHE.current(kept, states.get(pid)):
                out[pid] = (kept.value, None)
        elif now - kept.at < STALENESS.max_age(kept.cost, kept.value.rows):
            out[pid] = (kept.value, kept.at)
    return out


def _stats(row: Project, counts: _Counts, as_of: float | None) -> ProjectStats:
    distribution: Counter[str] = Counter({name: 0 for name in row.labels})
    for label, n in counts.chosen:
        distribution[label] += n
    return ProjectStats(
        total=counts.total,
        labeled=counts.labeled,
        skipped=counts.skipped,
        annotations=counts.annotations,
        distribution=dict(distribution),
        as_of=None if as_of is None else datetime.fromtimestamp(as_of, UTC),
    )


# The labels chosen in the current multilabel and boxes answers, counted in the database
# (a row per project and label) rather than by loading every answer's JSON. A multilabel
# answer is {"labels": [names]}, a boxes answer {"boxes": [{..., "label"}]}
# (types.validate_value); transcribe answers hold no labels.
_REACHED = "(gold reached)"  # not an item state: the gold items' row in the items query
_JSON_LABELS = {TaskType.MULTILABEL.value, TaskType.BOXES.value}
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


def _count(
    s: Any, rows: list[Project], gold_seen_in: set[int], own_only: set[int], viewer: int | None
) -> dict[int, _Counts]:
    """The counts of ``rows`` from three queries (two without multilabel or boxes projects),
    however many rows there are.

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
    scope = sorted(r.id for r in rows)
    own_only = own_only & set(scope)
    conditions.append(Annotation.project_id.in_(scope))
    where.append("AND a.project_id IN :scope")
    params["scope"] = scope
    expanding.append(bindparam("scope", expanding=True))
    if own_only and own_only == set(scope):  # (all of them, e.g. the one project)
        conditions.append(Annotation.user_id == who)
        where.append("AND a.user_id = :viewer")
        params["viewer"] = who
    elif own_only:
        conditions.append(or_(Annotation.user_id == who, Annotation.project_id.not_in(sorted(own_only))))
        where.append("AND (a.user_id = :viewer OR a.project_id NOT IN :own)")
        params.update(viewer=who, own=sorted(own_only))
        expanding.append(bindparam("own", expanding=True))
    counted = and_(Annotation.superseded_by.is_(None), *conditions)

    # Items by state from the queue index alone (project_id, state: no row reads), and the
    # gold items with the project's overlap of answers (a seek to each project's gold range).
    in_scope = Item.project_id.in_(scope)
    by_state: dict[int, dict[str, tuple[int, int]]] = defaultdict(dict)
    reached: dict[int, int] = {}
    for pid, state, n in s.execute(
        union_all(
            select(Item.project_id, Item.state, func.count())
            .where(in_scope, Item.state != ItemState.STAGED)
            .group_by(Item.project_id, Item.state),
            select(Item.project_id, literal(_REACHED), func.count())
            .join(Project, Project.id == Item.project_id)
            .where(in_scope, Item.state == ItemState.GOLD, Item.n_answers >= Project.overlap)
            .group_by(Item.project_id),
        )
    ):
        if state == _REACHED:
            reached[pid] = n
        else:
            by_state[pid][state] = (n, 0)
    for pid, n in reached.items():
        by_state[pid][ItemState.GOLD.value] = (by_state[pid][ItemState.GOLD.value][0], n)

    # Answers and skips, and a classify answer's label (a column of its own: counting it reads
    # no JSON), from one pass over the current answers.
    classify = {r.id for r in rows if r.task == TaskType.CLASSIFY.value}
    answers: dict[tuple[int, bool], int] = defaultdict(int)
    chosen: dict[int, list[tuple[str, int]]] = defaultdict(list)
    for pid, skipped, label, n in s.execute(
        select(Annotation.project_id, Annotation.skipped, Annotation.label, func.count())
        .where(counted)
        .group_by(Annotation.project_id, Annotation.skipped, Annotation.label)
    ):
        answers[pid, bool(skipped)] += n
        if pid in classify and not skipped and label is not None:
            chosen[pid].append((label, n))
    # The JSON labels only where there are any. PostgreSQL's planner expects 100 labels an
    # answer (a set-returning function's default) and JIT-compiles the query, which took
    # 0.3-0.5 s of a 0.5-0.9 s count at a million answers: not for this transaction's rest.
    if any(r.task in _JSON_LABELS for r in rows):
        dialect = s.get_bind().dialect.name
        if dialect == "postgresql":
            s.execute(text("SET LOCAL jit = off"))
        sql = _CHOSEN[dialect].replace("{where}", " ".join(where))
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
        out[row.id] = _Counts(
            total=total,
            labeled=labeled,
            skipped=answers.get((row.id, True), 0),
            annotations=answers.get((row.id, False), 0),
            chosen=tuple(chosen.get(row.id, [])),
        )
    return out
