"""Scoring the pool: suggestions and queue priorities from the current model and strategy.

For every unlabeled item the model's class probabilities give a suggestion
(label, confidence, probabilities, explanation); the project's query strategy
gives every item a score, and its batch choice (diverse, for the default) goes
first. ``items.priority`` is written as a rank in (0, 1]: the queue's index
order (``priority DESC, id``) then serves the strategy's order, and "next
item" stays one index seek. Rows are written with executemany in short
transactions, so annotators are never held up for long. Nothing is written
until everything is computed: a failure keeps the previous order. A newly
trained model (:class:`NewVersion`) gets its ``model_versions`` row in the
transaction that writes the first of its scores, so a job that fails before
then leaves no version behind.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

from hitloop.db.engine import Database
from hitloop.db.sql import Statement, json_in
from hitloop.db.tables import ModelVersion, Project
from hitloop.errors import InputError, NotFoundError
from hitloop.jobs import JobContext
from hitloop.ml.linalg import normalized_rows
from hitloop.ml.remote import RemoteModelError
from hitloop.ml.strategies import Pool
from hitloop.services import features as feature_service
from hitloop.services import retrain, scoring_added
from hitloop.services.loop_settings import build_strategy, loop_settings_of

__all__ = [
    "Explainer",
    "LearnerFailed",
    "NewVersion",
    "learner_error",
    "learner_label",
    "rescore",
    "score",
    "score_job",
    "write_batch_size",
]

CHUNK = 20_000
WRITE_BATCH = 2_000
EXPLAIN_HEAD = 10_000
TOP_WORDS = 6
NEIGHBORS = 3
TOP_PROBS = 5


def write_batch_size() -> int:
    return WRITE_BATCH


@dataclass(frozen=True)
class Explainer:
    """Why the model suggests a class: word weights (linear text models) or nearest labeled items."""

    #: Text: per class, the weight of each word feature (n_classes, n_words), and the words.
    word_weights: NDArray[np.float64] | None = None
    words: NDArray[Any] | None = None
    #: Images: unit-length features of the labeled items and their ids.
    labeled_X: Any = None
    labeled_ids: NDArray[np.int64] | None = None

    def explain(self, X: Any, predicted: NDArray[np.intp]) -> list[dict[str, Any] | None]:
        if self.word_weights is not None and self.words is not None:
            return self._words(X, predicted)
        if self.labeled_X is not None and self.labeled_ids is not None:
            return self._neighbors(X)
        return [None] * X.shape[0]

    def _words(self, X: Any, predicted: NDArray[np.intp]) -> list[dict[str, Any] | None]:
        """Per row, the words with the largest positive weight × TF-IDF, computed for all rows at once."""
        assert self.word_weights is not None and self.words is not None
        n_words = self.word_weights.shape[1]
        Xw = sp.csr_matrix(X)[:, :n_words]
        n = Xw.shape[0]
        rows = np.repeat(np.arange(n), np.diff(Xw.indptr))
        contrib = Xw.data * self.word_weights[predicted[rows], Xw.indices]
        keep = contrib > 0
        rows, cols, contrib = rows[keep], Xw.indices[keep], contrib[keep]
        order = np.lexsort((-contrib, rows))  # by row, then strongest first
        rows, cols, contrib = rows[order], cols[order], contrib[order]
        rank = np.arange(len(rows)) - np.searchsorted(rows, rows)
        top = rank < TOP_WORDS
        out: list[dict[str, Any] | None] = [None] * n
        for r, word, weight in zip(
            rows[top].tolist(),
            self.words[cols[top]].tolist(),
            np.round(contrib[top], 4).tolist(),
            strict=True,
        ):
            entry = out[r]
            if entry is None:
                out[r] = {"words": [[word, weight]]}
            else:
                entry["words"].append([word, weight])
        return out

    def _neighbors(self, X: Any) -> list[dict[str, Any] | None]:
        assert self.labeled_ids is not None
        similarity = np.asarray(normalized_rows(X) @ self.labeled_X.T)
        k = min(NEIGHBORS, similarity.shape[1])
        best = np.argsort(-similarity, axis=1)[:, :k]
        return [{"neighbors": [int(self.labeled_ids[j]) for j in row]} for row in best]


def _linear_weights(learner: Any) -> NDArray[np.float64] | None:
    """Per-class coefficients of a (wrapped) linear model, shape (n_classes, n_features), or None."""
    inner = getattr(learner, "base_", learner)
    model = getattr(inner, "model_", None)
    coef = getattr(model, "coef_", None)
    seen = getattr(inner, "seen_", None)
    classes = getattr(learner, "classes_", None)
    if coef is None or seen is None or classes is None:
        return None
    coef = np.asarray(coef, dtype=np.float64)
    full = np.zeros((len(classes), coef.shape[1]))
    if coef.shape[0] == 1:  # binary: decision_function is (-s/2, s/2) over seen_
        full[seen[0]], full[seen[1]] = -coef[0] / 2, coef[0] / 2
    else:
        full[seen] = coef
    # A word's pull towards a class, relative to the other classes the model knows.
    mean = full[seen].mean(axis=0)
    return np.asarray(full - mean, dtype=np.float64)


def _word_vectorizers(featurizer: Any) -> Any:
    """The TF-IDF vectorizers whose columns come first in the features (alone, or a stack's first part)."""
    vectorizers = getattr(featurizer, "vectorizers_", None)
    if vectorizers:
        return vectorizers
    parts = getattr(featurizer, "parts_", None)
    return getattr(parts[0], "vectorizers_", None) if parts else None


_names: weakref.WeakKeyDictionary[Any, NDArray[Any]] = weakref.WeakKeyDictionary()
_names_lock = threading.Lock()


def _feature_names(vectorizer: Any) -> NDArray[Any]:
    """The vectorizer's words, built once per fitted vectorizer (0.4 s for 179k words)."""
    with _names_lock:
        words = _names.get(vectorizer)
    if words is None:
        words = np.asarray(vectorizer.get_feature_names_out(), dtype=object)
        with _names_lock:
            _names[vectorizer] = words
    return words


def make_explainer(bundle: feature_service.FeatureBundle, learner: Any, labeled_rows: Any) -> Explainer:
    featurizer = bundle.featurizer
    vectorizers = _word_vectorizers(featurizer)
    if vectorizers:
        weights = _linear_weights(learner)
        if weights is not None:
            words = _feature_names(vectorizers[0])
            return Explainer(word_weights=np.ascontiguousarray(weights[:, : len(words)]), words=words)
        return Explainer()
    if getattr(featurizer, "modality", "") == "image" and len(labeled_rows):
        labeled = normalized_rows(bundle.X[labeled_rows])
        dense = np.asarray(sp.csr_matrix(labeled).toarray() if sp.issparse(labeled) else labeled)
        return Explainer(labeled_X=dense, labeled_ids=bundle.ids[labeled_rows])
    return Explainer()


class LearnerFailed(Exception):
    """A learner raised while predicting: the cause in words (picklable, so it crosses Dask too)."""


def _cause(exc: BaseException) -> str:
    """What went wrong, in one line: the message alone for the errors learners raise on purpose."""
    text = " ".join(str(exc).split())
    if isinstance(exc, ValueError | RemoteModelError | LearnerFailed) and text:
        return text
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def learner_label(name: str, learner: Any) -> str:
    """How a job error names the learner: its setting name, and its class when that says more."""
    cls = type(learner).__name__
    return repr(name) if name == cls else f"{name!r} ({cls})"


def learner_error(label: str, doing: str, exc: BaseException) -> InputError:
    """The job error for a learner that raised while ``doing`` something: the learner, then the cause."""
    return InputError(f"the learner {label} failed {doing}: {_cause(exc)}", field="learner")


@dataclass(frozen=True)
class NewVersion:
    """A trained model not recorded yet: its ``model_versions`` row, written with its first scores.

    ``columns`` are the row's values except ``id`` and ``metrics["changed"]``
    (how many suggestions the model changed, known only while writing).
    """

    columns: dict[str, Any]


# Runs on Dask workers too: module level, arguments pickled.
def _proba_chunk(args: tuple[Any, Any]) -> NDArray[np.float64]:
    learner, X = args
    try:
        P = np.asarray(learner.predict_proba(X), dtype=np.float64)
    except Exception as exc:  # any learner's failure, named in the job's error without a traceback
        raise LearnerFailed(_cause(exc)) from None
    if not np.isfinite(P).all():
        raise LearnerFailed("it returned NaN or infinite probabilities")
    return P


def _explain_chunk(args: tuple[Explainer, Any, NDArray[np.intp]]) -> list[dict[str, Any] | None]:
    explainer, X, predicted = args
    return explainer.explain(X, predicted)


_PRIORITY = Statement("UPDATE items SET priority = ? WHERE id = ?")
_UPSERT = Statement(
    "INSERT INTO suggestions"
    " (item_id, project_id, model_version_id, value, label, confidence, probs, explanation, created_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (item_id) DO UPDATE SET model_version_id = excluded.model_version_id,"
    " value = excluded.value, label = excluded.label, confidence = excluded.confidence,"
    " probs = excluded.probs, explanation = excluded.explanation, created_at = excluded.created_at"
)
_PREVIOUS = Statement("SELECT item_id, label FROM suggestions WHERE project_id = :p")
_VERSION = Statement(
    "INSERT INTO model_versions (project_id, job_id, learner, params, n_train, metrics, artifact, created_at)"
    " VALUES (:project_id, :job_id, :learner, :params, :n_train, :metrics, :artifact, :created_at)"
    " RETURNING id"
)


def _order(
    scores: NDArray[np.float64], batch: NDArray[np.intp], unlabeled: NDArray[np.intp]
) -> NDArray[np.intp]:
    """Unlabeled rows in serving order: the strategy's batch first, then by score (ties: lower id)."""
    first = [int(i) for i in batch]
    chosen = np.zeros(len(scores), dtype=bool)
    chosen[first] = True
    rest = unlabeled[~chosen[unlabeled]]
    s = np.nan_to_num(scores[rest], nan=-np.inf)
    rest = rest[np.argsort(-s, kind="stable")]
    return np.concatenate([np.asarray(first, dtype=np.intp), rest]).astype(np.intp)


def score(
    ctx: JobContext,
    project: Project,
    bundle: feature_service.FeatureBundle,
    learner: Any,
    version: int | NewVersion | None,
    labels: dict[int, str],
    *,
    yield_tail: bool = False,
    learner_name: str | None = None,
    seed: int | None = None,
) -> dict[str, Any]:
    """Suggestions and priorities for the project's unlabeled items; returns counts and ``changed``.

    ``version`` is the model's recorded version id (None: no model, cold
    start) or a :class:`NewVersion`, recorded in the transaction that writes
    the first rows (its id is the result's ``model_version_id``).
    ``learner_name`` names the learner in errors (default: its class).
    ``seed`` seeds the query strategy: the id of the job that trained the
    model, so rescoring a model repeats its training job's choice (default:
    the version id; 0 for cold start).

    With ``yield_tail`` (a train job), writing stops after the first
    :data:`EXPLAIN_HEAD` rows of the new order as soon as enough new labels
    for the next retraining have arrived: the next model comes sooner, and
    the rows not written keep their older priority, below every row written
    here (``written`` < ``scored`` in the result).
    """
    loop = loop_settings_of(project.settings, project.modality)
    strategy = build_strategy(loop)
    known = np.fromiter(labels, dtype=np.int64, count=len(labels))
    labeled_ids = np.sort(known[np.isin(known, bundle.ids)])
    labeled_rows = bundle.positions(labeled_ids)
    is_labeled = np.zeros(len(bundle.ids), dtype=bool)
    is_labeled[labeled_rows] = True
    unlabeled = np.flatnonzero(~is_labeled).astype(np.intp)
    n = len(bundle.ids)
    P: NDArray[np.float64] | None = None
    # Chunks are for Dask workers; in this process, slicing would only copy the matrix.
    step = CHUNK if ctx.mapper.name != "threads" else max(n, 1)
    if learner is not None:
        chunks = [(learner, bundle.X[i : i + step]) for i in range(0, n, step)]
        ctx.progress(0.6, f"predicting {n} items in {len(chunks)} chunks", force=True)
        try:
            P = np.vstack(ctx.map(_proba_chunk, chunks))
        except LearnerFailed as exc:
            label = learner_label(learner_name or type(learner).__name__, learner)
            raise learner_error(label, f"while scoring {n} items", exc) from None
    ctx.check_cancelled()
    ctx.progress(0.7, f"ranking with {loop.strategy}", force=True)
    y = np.array([labels[int(i)] for i in labeled_ids], dtype=object)
    pool = Pool(bundle.X, labeled=labeled_rows, y=y, learner=learner, proba=P)
    if seed is None:
        seed = int(version) if isinstance(version, int) else 0
    try:
        scores = np.asarray(strategy.score(pool, random_state=seed), dtype=np.float64)
        batch = strategy.select(pool, n=min(loop.batch, len(unlabeled)), random_state=seed)
    except ValueError as exc:
        raise InputError(f"the strategy {loop.strategy!r} failed: {exc}", field="strategy") from None
    order = _order(scores, np.asarray(batch, dtype=np.intp), unlabeled)
    # A rank in (0, 1]; the priority written adds the model version's id (see _write).
    rank = np.empty(n)
    rank[order] = (len(order) - np.arange(len(order))) / max(len(order), 1)
    explanations: dict[int, dict[str, Any] | None] = {}
    if P is not None:
        # Only the head of the queue: items further back are rescored before anyone sees them.
        head = order[:EXPLAIN_HEAD]
        explainer = make_explainer(bundle, learner, labeled_rows)
        predicted = np.argmax(P, axis=1)
        parts = [
            (explainer, bundle.X[head[i : i + step]], predicted[head[i : i + step]])
            for i in range(0, len(head), step)
        ]
        ctx.progress(0.75, f"explaining the first {len(head)} items", force=True)
        flat = [e for part in ctx.map(_explain_chunk, parts) for e in part]
        explanations = dict(zip(head.tolist(), flat, strict=True))
    ctx.check_cancelled()
    stop_tail = (lambda: retrain.retrain_due(ctx.db, project.id)) if yield_tail else None
    changed, written, version_id = _write(
        ctx, project.id, bundle, learner, version, P, explanations, unlabeled, rank, stop_tail
    )
    if P is not None and version_id is not None and written == len(unlabeled):
        # Items added later with this model can be placed in this order alone (scoring_added).
        scoring_added.remember(
            project.id,
            version_id=version_id,
            generation=bundle.generation,
            strategy=strategy,
            last_id=int(bundle.ids[-1]),
            ids=bundle.ids[order[len(batch) :]],
            scores=scores[order[len(batch) :]],
            batch=bundle.ids[order[: len(batch)]],
            priorities=float(version_id) + rank[order],
        )
    else:
        scoring_added.forget(project.id)
    out: dict[str, Any] = {
        "scored": len(unlabeled),
        "written": written,
        "batch": [int(bundle.ids[i]) for i in batch],
        "changed": changed,
    }
    if isinstance(version, NewVersion):
        out["model_version_id"] = version_id
    return out


def _record(conn: Any, version: NewVersion, changed: float | None) -> int:
    """Insert the new model's ``model_versions`` row in ``conn``'s transaction; its id."""
    columns = version.columns
    row = _VERSION.run(
        conn,
        {
            **columns,
            "params": json_in(conn, columns.get("params") or {}),
            "metrics": json_in(conn, {**(columns.get("metrics") or {}), "changed": changed}),
        },
    ).one()
    return int(row[0])


def upsert_suggestions(
    conn: Any,
    project_id: int,
    version_id: int | None,
    classes: list[str],
    item_ids: list[int],
    P: NDArray[np.float64],
    explanations: list[dict[str, Any] | None],
    now: float,
) -> None:
    """Write the suggestion of each item (row k of ``P`` is ``item_ids[k]``'s), in ``conn``'s transaction."""
    best = np.argmax(P, axis=1).tolist()
    top = np.argsort(-P, axis=1)[:, :TOP_PROBS]
    top_p = np.round(np.take_along_axis(P, top, axis=1), 6).tolist()
    params = []
    for k, item_id in enumerate(item_ids):
        label = classes[best[k]]
        probs = dict(zip((classes[c] for c in top[k]), top_p[k], strict=True))
        params.append(
            (
                item_id,
                project_id,
                version_id,
                json_in(conn, {"label": label}),
                label,
                top_p[k][0],
                json_in(conn, probs),
                json_in(conn, explanations[k]),
                now,
            )
        )
    _UPSERT.run(conn, params)


def _write(
    ctx: JobContext,
    project_id: int,
    bundle: feature_service.FeatureBundle,
    learner: Any,
    version: int | NewVersion | None,
    P: NDArray[np.float64] | None,
    explanations: dict[int, dict[str, Any] | None],
    unlabeled: NDArray[np.intp],
    rank: NDArray[np.float64],
    stop_tail: Callable[[], bool] | None = None,
) -> tuple[float | None, int, int | None]:
    """Write priorities and suggestions, head of the queue first; ``changed``, rows written, version id.

    A :class:`NewVersion` is recorded in the transaction of the first rows
    (alone when there are none), so the version appears with its scores.
    """
    db: Database = ctx.db
    ids = bundle.ids
    changed: float | None = None
    classes = [str(c) for c in learner.classes_] if P is not None else []
    best = np.argmax(P, axis=1) if P is not None else None
    if best is not None:
        with db.driver_read() as conn:
            cursor = conn.raw.cursor()
            cursor.execute(_PREVIOUS.render(conn.dialect), {"p": project_id})
            previous = dict(cursor.fetchall())
        if previous:
            pairs = [
                (previous[i], classes[b])
                for i, b in zip(ids[unlabeled].tolist(), best[unlabeled].tolist(), strict=True)
                if i in previous
            ]
            if pairs:
                changed = round(sum(old != new for old, new in pairs) / len(pairs), 4)
    now = time.time()
    total = len(unlabeled)
    # Head of the queue first: the items served next get their new order and suggestion soonest.
    ordered = unlabeled[np.argsort(-rank[unlabeled], kind="stable")]
    version_id = None if isinstance(version, NewVersion) else version
    if isinstance(version, NewVersion) and total == 0:
        with db.driver_write() as conn:
            version_id = _record(conn, version, changed)
    written = 0
    for start in range(0, total, WRITE_BATCH):
        if stop_tail is not None and start >= EXPLAIN_HEAD and stop_tail():
            break
        rows = ordered[start : start + WRITE_BATCH]
        item_ids = ids[rows].tolist()
        with db.driver_write() as conn:
            if isinstance(version, NewVersion) and version_id is None:
                version_id = _record(conn, version, changed)
            # The model version's id plus the rank: rows this scoring writes come before rows
            # an older scoring wrote, even when a train job leaves the tail to the next model.
            priority = float(version_id or 0) + rank[rows]
            _PRIORITY.run(conn, list(zip(priority.tolist(), item_ids, strict=True)))
            if P is not None:
                explained = [explanations.get(row) for row in rows.tolist()]
                upsert_suggestions(conn, project_id, version_id, classes, item_ids, P[rows], explained, now)
        written += len(rows)
        ctx.progress(0.8 + 0.2 * min(1.0, (start + len(rows)) / max(total, 1)), "writing priorities")
    return changed, written, version_id


def rescore(
    ctx: JobContext,
    project_id: int,
    bundle: feature_service.FeatureBundle | None = None,
    *,
    added: bool = False,
) -> dict[str, Any]:
    """Score the pool with the newest model (or the cold-start order when there is none).

    ``added`` (rows were just appended to ``bundle``): when the model is
    unchanged, score only the items added since the pool was scored, if the
    strategy allows (:func:`hitloop.services.scoring_added.score_added`).

    Items added since the features were made are featurized first; appended
    rows keep the features' generation, so the model scores them. When the
    featurizer was fitted again since that model (many items added, an item
    deleted, the featurizer changed), its inputs mean nothing any more: the
    project is retrained on the new features instead, so the queue keeps a
    model's order and the new items get suggestions (a learner that fails
    now fails the job and keeps the previous order).
    """
    from hitloop.services import training

    with ctx.db.read() as s:
        project = s.get(Project, project_id)
        if project is None:
            raise NotFoundError(f"project {project_id} not found", field="project_id")
        from sqlalchemy import select

        latest = s.scalars(
            select(ModelVersion)
            .where(ModelVersion.project_id == project_id)
            .order_by(ModelVersion.id.desc())
            .limit(1)
        ).first()
    if bundle is None:
        bundle = feature_service.up_to_date(ctx.db, ctx.settings, project_id)
        if bundle is None:
            with ctx.stage(0.0, 0.55):  # scoring's own progress starts at 0.6
                bundle = feature_service.featurize(ctx, project_id)
    if latest is None or not latest.artifact:
        return score(ctx, project, bundle, None, None, training.training_labels(ctx.db, project_id))
    stored = training.load_model(latest.artifact)
    if stored.get("feature_generation") != bundle.generation:
        with ctx.stage(0.55, 1.0):
            result = training.train(ctx, project_id)
        return {"retrained": "the features were made again", **result}
    labels = training.training_labels(ctx.db, project_id)
    if added:
        only_added = scoring_added.score_added(
            ctx, project, bundle, stored["learner"], latest.id, labels, learner_name=latest.learner
        )
        if only_added is not None:
            return only_added
    seed = latest.job_id if latest.job_id is not None else latest.id
    return score(
        ctx, project, bundle, stored["learner"], latest.id, labels, learner_name=latest.learner, seed=seed
    )


def score_job(ctx: JobContext) -> dict[str, Any]:
    """The ``score`` job: rescore the pool on demand (e.g. after changing the strategy)."""
    if ctx.project_id is None:
        raise InputError("a score job needs a project", field="project_id")
    return rescore(ctx, ctx.project_id)
