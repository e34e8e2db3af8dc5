"""Scoring only the items added since the pool was scored, when the model and its features are unchanged.

A featurize job that appended rows keeps the feature space and generation,
so the current model is still valid. When the project's strategy is
``pointwise`` (an item's score depends on the model and its own features
alone: margin, least confidence, entropy, and the diverse and cover variants,
whose batch is chosen jointly but whose queue order after the batch is by
score) and this process remembers the scoring that wrote the queue's
priorities with that model, only the new items are predicted, explained and
written. Each gets a priority between those of the two older items it falls
between in the strategy's order (after older items of the same score, as
its higher id would put it), so the queue is the order a full rescoring
gives the remembered pool plus the new items, with the remembered batch
still first. No older item's row is touched.

Anything else rescores the whole pool as before (:func:`score_added`
returns None): a strategy that scores jointly (density, committees,
k-center, BADGE, random), no remembered scoring in this process (another
worker scored, or it restarted), or priorities in the database that are not
the remembered scoring's (another process rescored since).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hitloop.db.sql import Statement
from hitloop.db.tables import Project
from hitloop.jobs import JobContext
from hitloop.ml.strategies import Pool, QueryStrategy
from hitloop.services import feature_store
from hitloop.services.loop_settings import build_strategy, loop_settings_of

__all__ = ["forget", "remember", "score_added", "strategy_key"]


@dataclass(frozen=True)
class _Scored:
    """A full scoring's order of the pool: what items added later are placed in."""

    version_id: int
    generation: str
    strategy: str
    #: Highest item id of the pool it scored; items above it were added since.
    last_id: int
    #: Unlabeled items after the batch, in serving order (score descending, then id), and their scores.
    ids: NDArray[np.int64]
    scores: NDArray[np.float64]
    #: The batch served first.
    batch: NDArray[np.int64]
    #: The batch and the first item after it, and the priorities that scoring gave them: if
    #: the database holds others, another scoring has written the queue since.
    marks: NDArray[np.int64]
    mark_priorities: NDArray[np.float64]


_scored: dict[int, _Scored] = {}
_lock = threading.Lock()


def strategy_key(strategy: QueryStrategy) -> str:
    """What a strategy's scores depend on besides the model: its class and parameters."""
    return f"{type(strategy).__qualname__}{sorted(strategy.get_params(deep=False).items())!r}"


def remember(
    project_id: int,
    *,
    version_id: int,
    generation: str,
    strategy: QueryStrategy,
    last_id: int,
    ids: NDArray[np.int64],
    scores: NDArray[np.float64],
    batch: NDArray[np.int64],
    priorities: NDArray[np.float64],
) -> None:
    """Keep the order a full scoring wrote (only for a ``pointwise`` strategy; else forget).

    ``priorities`` are those it wrote for the batch, then for ``ids``.
    """
    if not strategy.pointwise:
        forget(project_id)
        return
    scored = _Scored(
        version_id=version_id,
        generation=generation,
        strategy=strategy_key(strategy),
        last_id=last_id,
        ids=np.asarray(ids, dtype=np.int64),
        scores=np.nan_to_num(np.asarray(scores, dtype=np.float64), nan=-np.inf),
        batch=np.asarray(batch, dtype=np.int64),
        marks=np.concatenate([batch, ids[:1]]).astype(np.int64),
        mark_priorities=np.asarray(priorities[: len(batch) + 1], dtype=np.float64),
    )
    with _lock:
        _scored[project_id] = scored


def forget(project_id: int) -> None:
    with _lock:
        _scored.pop(project_id, None)


# By primary key alone: with project_id in the WHERE, SQLite walks the project's queue index.
_PRIORITIES = Statement("SELECT id, priority, project_id FROM items WHERE id IN ({ids})")
_PRIORITY = Statement("UPDATE items SET priority = ? WHERE id = ?")
_READ_BATCH = 500


def _priorities(ctx: JobContext, project_id: int, ids: list[int]) -> dict[int, float]:
    """The stored priority of each of ``ids`` that still exists."""
    out: dict[int, float] = {}
    with ctx.db.driver_read() as conn:
        for k in range(0, len(ids), _READ_BATCH):
            part = ids[k : k + _READ_BATCH]
            query = Statement(_PRIORITIES.sql.replace("{ids}", ", ".join(f":i{j}" for j in range(len(part)))))
            params: dict[str, Any] = {f"i{j}": v for j, v in enumerate(part)}
            out.update((int(i), float(p)) for i, p, of in query.run(conn, params).all() if of == project_id)
    return out


def _placed(gap: NDArray[np.intp], bounds: dict[int, tuple[float, float]]) -> NDArray[np.float64]:
    """Priorities of new items (sorted by score descending, then id), spread evenly over their gap.

    ``gap[j]`` is the older item new item j goes before; ``bounds[g]`` the
    priorities (upper, lower) of gap g's neighbours.
    """
    out = np.empty(len(gap))
    start = 0
    while start < len(gap):
        end = start + int(np.searchsorted(gap[start:], gap[start], side="right"))
        hi, lo = bounds[int(gap[start])]
        out[start:end] = hi - np.arange(1, end - start + 1) * (hi - lo) / (end - start + 1)
        start = end
    return out


def score_added(
    ctx: JobContext,
    project: Project,
    bundle: feature_store.FeatureBundle,
    learner: Any,
    version_id: int,
    labels: dict[int, str],
    *,
    learner_name: str | None = None,
) -> dict[str, Any] | None:
    """Score and write only the items added since the remembered scoring; None to rescore the pool."""
    from hitloop.services import scoring

    strategy = build_strategy(loop_settings_of(project.settings, project.modality))
    with _lock:
        memo = _scored.get(project.id)
    if (
        not strategy.pointwise
        or memo is None
        or (memo.version_id, memo.generation, memo.strategy)
        != (version_id, bundle.generation, strategy_key(strategy))
    ):
        return None
    start = int(np.searchsorted(bundle.ids, memo.last_id, side="right"))
    rows = np.arange(start, len(bundle.ids))
    rows = rows[~np.isin(bundle.ids[rows], np.fromiter(labels, dtype=np.int64, count=len(labels)))]
    new_ids = bundle.ids[rows]
    n = len(rows)
    if not n:
        with _lock:
            _scored[project.id] = replace(memo, last_id=int(bundle.ids[-1]))
        return {"scored": 0, "written": 0, "batch": memo.batch.tolist(), "changed": None, "only_added": True}
    X = bundle.X[rows]
    step = scoring.CHUNK if ctx.mapper.name != "threads" else n
    chunks = [(learner, X[i : i + step]) for i in range(0, n, step)]
    ctx.progress(0.6, f"predicting {n} added items", force=True)
    try:
        P = np.vstack(ctx.map(scoring._proba_chunk, chunks))
    except scoring.LearnerFailed as exc:
        label = scoring.learner_label(learner_name or type(learner).__name__, learner)
        raise scoring.learner_error(label, f"while scoring {n} items", exc) from None
    scores = np.asarray(strategy.score(Pool(X, learner=learner, proba=P)), dtype=np.float64)
    scores = np.nan_to_num(scores, nan=-np.inf)
    order = np.lexsort((new_ids, -scores))
    new_ids, rows, scores, P, X = new_ids[order], rows[order], scores[order], P[order], X[order]

    # The older neighbours of each gap the new items fall in, and the marks, as stored now.
    gap = np.searchsorted(-memo.scores, -scores, side="right")
    gaps = np.unique(gap).tolist()
    near = {int(memo.ids[g]) for g in gaps if g < len(memo.ids)}
    near |= {int(memo.ids[g - 1]) for g in gaps if g > 0}
    stored = _priorities(ctx, project.id, sorted(near | set(memo.marks.tolist())))
    now_marks = np.array([stored.get(int(i), np.nan) for i in memo.marks])
    if not np.allclose(now_marks, memo.mark_priorities, rtol=0, atol=1e-12):
        return None  # the queue was rescored since (another process): its order is not this one
    band_top, band_floor = float(version_id) + 1.0, float(version_id)
    top = float(memo.mark_priorities[: len(memo.batch)].min()) if len(memo.batch) else band_top
    bounds: dict[int, tuple[float, float]] = {}
    for g in gaps:
        hi = stored.get(int(memo.ids[g - 1]), np.nan) if g > 0 else top
        lo = stored.get(int(memo.ids[g]), np.nan) if g < len(memo.ids) else band_floor
        if not band_floor <= lo < hi <= band_top:
            return None  # a neighbour deleted or written by another scoring: rescore everything
        bounds[g] = (hi, lo)
    priority = _placed(gap, bounds)

    ctx.check_cancelled()
    ctx.progress(0.75, f"explaining {n} added items", force=True)
    labeled_ids = np.sort(np.fromiter(labels, dtype=np.int64, count=len(labels)))
    at = np.minimum(np.searchsorted(bundle.ids, labeled_ids), len(bundle.ids) - 1)
    labeled_rows = at[bundle.ids[at] == labeled_ids].astype(np.intp)
    explained = scoring.make_explainer(bundle, learner, labeled_rows).explain(X, np.argmax(P, axis=1))
    classes = [str(c) for c in learner.classes_]
    item_ids = new_ids.tolist()
    with ctx.db.driver_write() as conn:
        _PRIORITY.run(conn, list(zip(priority.tolist(), item_ids, strict=True)))
        scoring.upsert_suggestions(conn, project.id, version_id, classes, item_ids, P, explained, time.time())
    # The next addition is placed among these too.
    with _lock:
        _scored[project.id] = replace(
            memo,
            last_id=int(bundle.ids[-1]),
            ids=np.insert(memo.ids, gap, new_ids),
            scores=np.insert(memo.scores, gap, scores),
        )
    return {"scored": n, "written": n, "batch": memo.batch.tolist(), "changed": None, "only_added": True}
