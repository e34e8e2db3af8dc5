"""Training: the labels a model learns from, the ``train`` job, and the project's model versions.

A train job reads the project's labels (:func:`training_labels`) and stored
features, fits the project's learner, estimates its accuracy by
cross-validation on the labeled items, stores the fitted learner under
``data_dir/models/<project_id>/`` and scores the pool
(:mod:`hitloop.services.scoring`), which records the ``model_versions`` row
with the first scores it writes, all without holding up annotators: only the
short writes at the end take the write lock. A job that fails before then
leaves no version and the previous order.
"""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import Any, cast

import joblib
import numpy as np
from sklearn.base import clone
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold

from hitloop.db.engine import Database
from hitloop.db.sql import Statement
from hitloop.db.tables import ModelVersion, Project
from hitloop.errors import HitloopError, InputError, NotFoundError
from hitloop.jobs import JobContext
from hitloop.jobs.context import JobCancelled, JobInterrupted
from hitloop.ml.calibration import fit_temperature
from hitloop.ml.learners import LabelSpreadingLearner, LogisticLearner
from hitloop.schemas import LearningCurvePoint, ModelsOut, ModelVersionOut
from hitloop.services import features as feature_service
from hitloop.services import scoring
from hitloop.services.consensus import consensus_labels
from hitloop.services.feature_store import dump_atomic
from hitloop.services.loop_settings import build_learner, loop_settings_of
from hitloop.types import TaskType

__all__ = [
    "count_labels",
    "has_model",
    "learner_name",
    "list_models",
    "load_model",
    "train",
    "train_job",
    "training_labels",
]

CV_FOLDS = 5
#: From this many labels on, three folds: each still holds out 67+ items, at half the fitting cost.
FEWER_FOLDS_FROM = 200

# Gold items are left out: they measure people, and a model trained on them would
# suggest their known answers to the people being measured.
_LABELS = Statement(
    "SELECT a.id, a.item_id, a.user_id, a.label AS answer FROM annotations a JOIN items i ON i.id = a.item_id"
    " WHERE a.project_id = :p AND a.superseded_by IS NULL AND a.skipped = :no AND a.label IS NOT NULL"
    " AND i.state <> 'gold' ORDER BY a.item_id, a.id"
)
_COUNT = Statement(
    "SELECT count(*) AS n FROM annotations WHERE project_id = :p AND superseded_by IS NULL AND skipped = :no"
)
_WATERMARK = Statement("SELECT max(id) AS last FROM annotations WHERE project_id = :p")


def training_labels(db: Database, project_id: int) -> dict[int, str]:
    """One label per labeled item: the majority of its current (not superseded, not skipped) answers.

    Each person's latest answer counts once. A tie goes to the label answered
    first among the tied ones. Gold items are not training data (they measure
    the people answering them; they are scored, and suggested, like unlabeled
    items). When some items have several answers (overlap),
    those take the project's consensus label instead (:mod:`hitloop.services.consensus`:
    Dawid–Skene once enough items are shared, majority vote before); training and
    scoring only call this function.
    """
    by_item: dict[int, list[str]] = {}
    with db.driver_read() as conn:
        rows = _LABELS.run(conn, {"p": project_id, "no": False}).all()
    for row in rows:
        by_item.setdefault(int(row.item_id), []).append(str(row.answer))
    out: dict[int, str] = {}
    for item_id, answers in by_item.items():
        if len(answers) == 1:
            out[item_id] = answers[0]
            continue
        counts = Counter(answers)
        top = max(counts.values())
        out[item_id] = next(a for a in answers if counts[a] == top)
    if any(len(answers) > 1 for answers in by_item.values()):
        try:
            agreed = consensus_labels(db, project_id, rows=rows)  # the answers read above, not again
        except InputError:
            # e.g. model-assisted consensus before the first model scored the items: majority it is.
            return out
        return {item_id: agreed.get(item_id, label) for item_id, label in out.items()}
    return out


def count_labels(db: Database, project_id: int) -> int:
    """Current non-skipped answers in the project (what "N new labels" counts)."""
    with db.driver_read() as conn:
        return int(_COUNT.run(conn, {"p": project_id, "no": False}).scalar_one())


def label_watermark(db: Database, project_id: int) -> int:
    """The highest annotation id of the project (0 for none): what a model has seen."""
    with db.driver_read() as conn:
        return int(_WATERMARK.run(conn, {"p": project_id}).scalar_one() or 0)


def learner_name(learner: Any) -> str:
    return type(learner).__name__


def _models_dir(ctx: JobContext, project_id: int) -> Path:
    return ctx.settings.models_dir / str(project_id)


def load_model(path: str) -> dict[str, Any]:
    """A stored model: ``{"learner", "classes", "feature_key", "feature_generation"}``."""
    return cast(dict[str, Any], joblib.load(path))


def has_model(db: Database, project_id: int) -> bool:
    from sqlalchemy import select

    with db.read() as s:
        return (
            s.scalar(select(ModelVersion.id).where(ModelVersion.project_id == project_id).limit(1))
            is not None
        )


def _cross_validate(learner: Any, X: Any, y: np.ndarray[Any, Any]) -> tuple[dict[str, Any], Any]:
    """Accuracy and macro-F1 on held-out folds of the labeled items, and the out-of-fold logits.

    The folds are made like those of the learners' own temperature calibration
    (stratified, shuffled, seed 0, at most five; three from
    :data:`FEWER_FOLDS_FROM` labels on), so a calibrated linear learner
    can reuse the out-of-fold logits instead of refitting folds (:func:`_fit`).
    """
    counts = Counter(y.tolist())
    most = CV_FOLDS if len(y) < FEWER_FOLDS_FROM else 3
    folds = min(most, min(counts.values())) if len(counts) > 1 else 0
    if folds < 2:
        return {"accuracy": None, "accuracy_std": None, "f1_macro": None, "cv_folds": 0}, None
    accuracies, f1s = [], []
    oof: Any = None
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
    for train_idx, test_idx in splitter.split(np.zeros(len(y)), y):
        fold = clone(learner)
        if "calibrate" in fold.get_params():
            fold.set_params(calibrate=False)  # temperature scaling never changes the predicted class
        fold.fit(X[train_idx], y[train_idx])
        predicted = np.asarray(fold.predict(X[test_idx]))
        if hasattr(fold, "decision_function"):
            logits = np.asarray(fold.decision_function(X[test_idx]), dtype=np.float64)
            if oof is None:
                oof = np.empty((len(y), logits.shape[1]))
            oof[test_idx] = logits
        accuracies.append(float(np.mean(predicted == y[test_idx])))
        f1s.append(float(f1_score(y[test_idx], predicted, average="macro", zero_division=0)))
    metrics = {
        "accuracy": round(float(np.mean(accuracies)), 4),
        "accuracy_std": round(float(np.std(accuracies)), 4),
        "f1_macro": round(float(np.mean(f1s)), 4),
        "cv_folds": folds,
    }
    return metrics, oof


def _fit(learner: Any, X_labeled: Any, y: np.ndarray[Any, Any], oof: Any, classes: list[str]) -> Any:
    """Fit a supervised learner; a calibrated logistic model takes its temperature from ``oof``.

    ``LogisticLearner(calibrate=True)`` would refit five folds much like those
    :func:`_cross_validate` just fitted; fitting once uncalibrated and fitting
    the temperature to those out-of-fold logits is the same method (a
    cross-validated temperature) at about half the cost.
    """
    if isinstance(learner, LogisticLearner) and learner.calibrate and oof is not None:
        learner.set_params(calibrate=False)
        learner.fit(X_labeled, y)
        learner.set_params(calibrate=True)
        codes = np.array([classes.index(v) for v in y.tolist()], dtype=np.intp)
        learner.temperature_ = fit_temperature(oof, codes)
        return learner
    return learner.fit(X_labeled, y)


def _project(db: Database, project_id: int) -> Project:
    with db.read() as s:
        project = s.get(Project, project_id)
    if project is None:
        raise NotFoundError(f"project {project_id} not found", field="project_id")
    return project


def train(ctx: JobContext, project_id: int) -> dict[str, Any]:
    """Fit the project's learner on its labels, record the version, and rescore the pool."""
    cpu_started = time.thread_time()
    project = _project(ctx.db, project_id)
    if project.task != TaskType.CLASSIFY.value:
        raise InputError(f"the model loop supports classify projects, not {project.task}", field="task")
    loop = loop_settings_of(project.settings)
    # Read before the labels: an answer arriving in between counts toward the next model.
    watermark = label_watermark(ctx.db, project_id)
    n_annotations = count_labels(ctx.db, project_id)
    labels = training_labels(ctx.db, project_id)
    if len(set(labels.values())) < 2:
        seen = ", ".join(sorted(set(labels.values()))) or "none"
        raise InputError(
            "training needs labels of at least two classes;"
            f" {len(labels)} labeled items, classes seen: {seen}",
            field="labels",
        )
    ctx.progress(0.05, "loading features", force=True)
    bundle = feature_service.up_to_date(ctx.db, ctx.settings, project_id)
    if bundle is None:
        with ctx.stage(0.05, 0.3):
            bundle = feature_service.featurize(ctx, project_id)
    ids = np.array(sorted(labels), dtype=np.int64)
    try:
        rows = bundle.positions(ids)
    except LookupError:
        with ctx.stage(0.05, 0.3):
            bundle = feature_service.featurize(ctx, project_id)
        rows = bundle.positions(ids)
    y = np.array([labels[int(i)] for i in ids], dtype=object)
    learner = build_learner(project.modality, list(project.labels), loop)
    name = loop.learner if loop.learner != "default" else learner_name(learner)
    ctx.check_cancelled()
    ctx.progress(0.3, f"training on {len(ids)} labels", force=True)
    started = time.monotonic()
    try:
        metrics, oof = _cross_validate(learner, bundle.X[rows], y)
        ctx.check_cancelled()
        if isinstance(learner, LabelSpreadingLearner):
            # Semi-supervised: the whole pool, unlabeled rows marked None.
            y_pool = np.full(len(bundle.ids), None, dtype=object)
            y_pool[rows] = y
            learner.fit(bundle.X, y_pool)
        else:
            _fit(learner, bundle.X[rows], y, oof, list(project.labels))
    except (JobCancelled, JobInterrupted, HitloopError):
        raise
    except Exception as exc:  # any learner's failure: the job's error names it and the cause
        label = scoring.learner_label(name, learner)
        raise scoring.learner_error(label, f"while training on {len(ids)} labels", exc) from None
    metrics.update(
        {
            "n_annotations": n_annotations,
            "last_annotation_id": watermark,
            "train_seconds": round(time.monotonic() - started, 3),
            "class_counts": dict(Counter(y.tolist())),
        }
    )
    ctx.progress(0.5, "saving the model", force=True)
    path = _models_dir(ctx, project_id) / f"job-{ctx.job_id}.joblib"
    dump_atomic(
        path,
        {
            "learner": learner,
            "classes": list(project.labels),
            "feature_key": bundle.key,
            "feature_generation": bundle.generation,
        },
    )
    # Recorded with the first scores it writes (scoring.NewVersion): a job that fails
    # before then (the learner fails to predict, a remote model times out) leaves no version.
    version = scoring.NewVersion(
        {
            "project_id": project_id,
            "job_id": ctx.job_id,
            "learner": name,
            "params": _json_params(learner),
            "n_train": len(ids),
            "metrics": metrics,
            "artifact": str(path),
            "created_at": time.time(),
        }
    )
    ctx.progress(0.55, "scoring the pool", force=True)
    try:
        scored = scoring.score(
            ctx,
            project,
            bundle,
            learner,
            version,
            labels,
            yield_tail=True,
            learner_name=name,
            seed=ctx.job_id,
        )
    except BaseException:
        if not _recorded(ctx.db, path):
            path.unlink(missing_ok=True)
        raise
    # CPU of this thread (the job's own work, whatever else runs on the machine).
    cpu = round(time.thread_time() - cpu_started, 3)
    return {"n_train": len(ids), **metrics, **scored, "cpu_seconds": cpu}


def _recorded(db: Database, artifact: Path) -> bool:
    """Does a model version point at this stored model (its scores began to be written)?"""
    from sqlalchemy import select

    with db.read() as s:
        found = s.scalar(select(ModelVersion.id).where(ModelVersion.artifact == str(artifact)).limit(1))
    return found is not None


def _json_params(learner: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in learner.get_params(deep=False).items():
        if name == "classes":
            continue
        out[name] = value if isinstance(value, str | int | float | bool | type(None)) else repr(value)
    return out


def train_job(ctx: JobContext) -> dict[str, Any]:
    """The ``train`` job; afterwards, another is queued if enough labels arrived meanwhile."""
    if ctx.project_id is None:
        raise InputError("a train job needs a project", field="project_id")
    result = train(ctx, ctx.project_id)
    from hitloop.services import retrain

    follow = retrain.maybe_retrain(ctx.db, ctx.project_id, ignore_job=ctx.job_id)
    if follow is not None:
        result["next_job_id"] = follow.id
    return result


def list_models(db: Database, project_id: int, *, limit: int = 100) -> ModelsOut:
    """Versions newest first, the learning curve oldest first, and the stopping signal."""
    from sqlalchemy import select

    from hitloop.jobs import records

    _project(db, project_id)
    with db.read() as s:
        rows = list(
            s.scalars(
                select(ModelVersion)
                .where(ModelVersion.project_id == project_id)
                .order_by(ModelVersion.id.desc())
                .limit(limit)
            )
        )
    versions = [
        ModelVersionOut(
            id=r.id,
            project_id=r.project_id,
            job_id=r.job_id,
            learner=r.learner,
            params=r.params or {},
            n_train=r.n_train,
            metrics=r.metrics or {},
            created_at=r.created_at,
        )
        for r in rows
    ]
    curve = [
        LearningCurvePoint(
            model_version_id=v.id,
            n_train=v.n_train,
            accuracy=v.metrics.get("accuracy"),
            changed=v.metrics.get("changed"),
        )
        for v in reversed(versions)
    ]
    return ModelsOut(
        versions=versions,
        learning_curve=curve,
        stopping=stopping_signal(curve),
        jobs=records.list_jobs(db, project_id=project_id, limit=10),
    )


def stopping_signal(curve: list[LearningCurvePoint]) -> dict[str, Any]:
    """Current accuracy, how much the last retraining changed, and a plain-words reading of both."""
    if not curve:
        return {"accuracy": None, "changed": None, "gain": None, "advice": "no model yet"}
    last = curve[-1]
    previous = curve[-2] if len(curve) > 1 else None
    gain = None
    if previous is not None and last.accuracy is not None and previous.accuracy is not None:
        gain = round(last.accuracy - previous.accuracy, 4)
    if last.changed is None or previous is None:
        advice = "keep labeling: too few versions to judge"
    elif last.accuracy is None:
        # Few labels make few suggestions flip; without an accuracy that proves nothing.
        advice = "keep labeling: too few labels per class to estimate accuracy"
    elif last.changed < 0.01 and gain is not None and abs(gain) < 0.01:
        advice = "the model has stopped changing: more labels of this kind are unlikely to help"
    elif last.changed < 0.05:
        advice = "the model changes little with new labels: close to its plateau"
    else:
        advice = "the model still changes with new labels: keep labeling"
    return {"accuracy": last.accuracy, "changed": last.changed, "gain": gain, "advice": advice}
