"""Learners: scikit-learn classifiers with calibrated probabilities over the project's classes.

Every learner takes ``fit(X, y, sample_weight=None)`` with X of shape
(n_items, n_features). Rows whose label is :data:`UNLABELED` (``-1`` in a
numeric ``y``, ``None`` in an object ``y``, as in ``sklearn.semi_supervised``)
are the unlabeled pool: supervised learners ignore them, semi-supervised
learners learn from them. ``predict_proba`` always returns one column per
class in ``classes_``, the project's full class list, including classes no
label has shown yet (probability 0 until they have).
"""

from __future__ import annotations

from typing import Any, Self

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold
from sklearn.utils.validation import check_is_fitted

from hitloop.ml.calibration import fit_temperature, softmax_with_temperature
from hitloop.ml.linalg import Features, check_features
from hitloop.ml.semisupervised import knn_graph, spread_labels

__all__ = ["UNLABELED", "LabelSpreadingLearner", "Learner", "LogisticLearner", "labeled_mask"]

UNLABELED = -1
"""The label of an unlabeled row in a numeric ``y`` (``None`` in an object ``y``)."""

_NEVER = -1e4  # logit of a class no training label has shown: probability exactly 0 after softmax


def labeled_mask(y: Any) -> NDArray[np.bool_]:
    """True where ``y`` holds a label, False where it holds :data:`UNLABELED` or ``None``."""
    arr = np.asarray(y)
    if arr.ndim != 1:
        raise ValueError(f"y must be 1-D, got shape {arr.shape}")
    if arr.dtype.kind in "iu":
        return np.asarray(arr != UNLABELED)
    if arr.dtype.kind == "f":
        return np.asarray((arr != UNLABELED) & ~np.isnan(arr))
    if arr.dtype.kind == "O":
        return np.array(
            [v is not None and not (isinstance(v, int | np.integer) and v == UNLABELED) for v in arr]
        )
    return np.ones(len(arr), dtype=bool)


def _encode(y_labeled: NDArray[Any], classes: Any) -> tuple[NDArray[Any], NDArray[np.intp]]:
    """The class list and the column index of each label; unknown labels are an error."""
    full = np.unique(y_labeled) if classes is None else np.asarray(list(classes))
    if len(full) != len(set(full.tolist())):
        raise ValueError("classes must be unique")
    lookup = {c: i for i, c in enumerate(full.tolist())}
    unknown = sorted({str(v) for v in y_labeled.tolist() if v not in lookup})
    if unknown:
        raise ValueError(f"labels not in classes: {', '.join(unknown[:5])}")
    return full, np.array([lookup[v] for v in y_labeled.tolist()], dtype=np.intp)


def _check_xy(X: Any, y: Any, sample_weight: Any) -> tuple[Features, NDArray[Any], NDArray[np.float64]]:
    X = check_features(X)
    y = np.asarray(y)
    if len(y) != X.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {len(y)} labels")
    w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    if w.shape != (len(y),) or (w < 0).any() or not np.isfinite(w).all():
        raise ValueError("sample_weight must be finite, non-negative, one per row")
    return X, y, w


def _require_two_classes(codes: NDArray[np.intp], classes: NDArray[Any]) -> None:
    seen = np.unique(codes)
    if len(seen) < 2:
        only = ", ".join(str(c) for c in classes[seen]) or "none"
        raise ValueError(f"training needs labels of at least two classes; the labels so far are all: {only}")


def _used_columns(X: Features) -> NDArray[np.intp] | None:
    """Columns with a nonzero in sparse ``X``, when they are under half of all; None otherwise.

    A wide vocabulary (TF-IDF of a large pool: 179,225 columns at 100k SST-2
    sentences) against a few hundred labeled rows: the solver's cost follows
    the columns, so fitting on the used ones is many times faster (measured:
    0.24 s to 0.014 s at 60 labels) with the same solution.
    """
    if not sp.issparse(X):
        return None
    used = np.unique(sp.csr_matrix(X).indices)
    return used.astype(np.intp) if 2 * len(used) < X.shape[1] else None


class Learner(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """Base class: calibrated ``predict_proba`` from ``decision_function`` and ``temperature_``.

    Subclasses implement ``_fit(X, y, labeled, codes, weights)`` setting their
    model state, and ``decision_function(X)`` returning (n, n_classes) logits.
    Cross-validated temperature scaling (``calibrate=True``) refits the same
    learner on folds of the labeled rows, with the held-out rows unlabeled.
    """

    classes: Any
    calibrate: bool
    classes_: NDArray[Any]
    temperature_: float

    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> Self:
        X, y, w = _check_xy(X, y, sample_weight)
        labeled = np.flatnonzero(labeled_mask(y))
        self.classes_, codes = _encode(y[labeled], self.classes)
        _require_two_classes(codes, self.classes_)
        self._fit(X, y, labeled, codes, w)
        self.temperature_ = self._cv_temperature(X, y, labeled, codes, w) if self.calibrate else 1.0
        return self

    def _fit(
        self,
        X: Features,
        y: NDArray[Any],
        labeled: NDArray[np.intp],
        codes: NDArray[np.intp],
        w: NDArray[np.float64],
    ) -> None:
        raise NotImplementedError

    def decision_function(self, X: Any) -> NDArray[np.float64]:
        raise NotImplementedError

    def _cv_temperature(
        self,
        X: Features,
        y: NDArray[Any],
        labeled: NDArray[np.intp],
        codes: NDArray[np.intp],
        w: NDArray[np.float64],
    ) -> float:
        counts = np.bincount(codes)
        folds = int(min(5, counts[counts > 0].min()))
        if folds < 2:
            return 1.0
        oof = np.empty((len(labeled), len(self.classes_)))
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=0)
        masked = y.astype(object)
        for _, held in splitter.split(labeled, codes):
            y_fold = masked.copy()
            y_fold[labeled[held]] = None
            fold = clone(self).set_params(calibrate=False, classes=list(self.classes_))
            oof[held] = fold.fit(X, y_fold, w).decision_function(X[labeled[held]])
        return fit_temperature(oof, codes)

    def predict_proba(self, X: Any) -> NDArray[np.float64]:
        """Class probabilities, shape (n_items, len(classes_)); rows sum to 1."""
        check_is_fitted(self, "temperature_")
        return softmax_with_temperature(self.decision_function(X), self.temperature_)

    def predict(self, X: Any) -> NDArray[Any]:
        """The most probable class of each row, shape (n_items,)."""
        return np.asarray(self.classes_[np.argmax(self.decision_function(X), axis=1)])


class LogisticLearner(Learner):
    """Multinomial logistic regression, temperature-calibrated, over a fixed class list.

    Parameters
    ----------
    classes : sequence or None
        The project's full class list; ``predict_proba`` has one column per
        class in this order. None: the classes present in ``y`` at fit time.
    C : float
        Inverse L2 regularization strength.
    class_weight : "balanced" or None
        "balanced" reweights classes inversely to their label counts.
    calibrate : bool
        Fit a softmax temperature on out-of-fold logits of the labeled rows.
    solver : str
        scikit-learn solver; "newton-cg" converges in a few steps and, with
        SciPy 1.17, runs 3-10x faster than "lbfgs" here (more on wide sparse TF-IDF).
    max_iter : int

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    model_ : sklearn.linear_model.LogisticRegression
        Fitted on the classes seen so far (``seen_`` columns of ``classes_``).
    seen_ : ndarray of int
    temperature_ : float
    """

    def __init__(
        self,
        classes: Any = None,
        C: float = 10.0,
        class_weight: str | None = "balanced",
        calibrate: bool = True,
        solver: str = "newton-cg",
        max_iter: int = 1000,
    ) -> None:
        self.classes = classes
        self.C = C
        self.class_weight = class_weight
        self.calibrate = calibrate
        self.solver = solver
        self.max_iter = max_iter

    def _fit(
        self,
        X: Features,
        y: NDArray[Any],
        labeled: NDArray[np.intp],
        codes: NDArray[np.intp],
        w: NDArray[np.float64],
    ) -> None:
        if not self.C > 0:
            raise ValueError(f"C must be positive, got {self.C}")
        model = LogisticRegression(
            C=self.C, class_weight=self.class_weight, solver=self.solver, max_iter=self.max_iter
        )
        X_train = X[labeled]
        used = _used_columns(X_train)
        if used is None:
            self.model_ = model.fit(X_train, codes, sample_weight=w[labeled])
        else:
            # Columns no labeled row uses get zero weight at the optimum (no data term, L2 pulls
            # to 0): fit on the used ones only, then widen the coefficients back.
            model.fit(X_train[:, used], codes, sample_weight=w[labeled])
            coef = np.zeros((model.coef_.shape[0], X.shape[1]))
            coef[:, used] = model.coef_
            model.coef_ = coef
            model.n_features_in_ = X.shape[1]
            self.model_ = model
        self.seen_ = np.asarray(self.model_.classes_, dtype=np.intp)

    def decision_function(self, X: Any) -> NDArray[np.float64]:
        """Logits, shape (n_items, len(classes_)); classes not seen in training get -1e4."""
        check_is_fitted(self, "model_")
        scores = np.asarray(self.model_.decision_function(check_features(X)), dtype=np.float64)
        if scores.ndim == 1:
            scores = np.column_stack([-scores / 2, scores / 2])
        out = np.full((scores.shape[0], len(self.classes_)), _NEVER)
        out[:, self.seen_] = scores
        return out


class LabelSpreadingLearner(Learner):
    """Semi-supervised: spread labels over the pool's kNN graph, then fit ``base`` on all of it.

    The unlabeled rows of ``fit`` (label :data:`UNLABELED`) get the class that
    label spreading gives them, weighted by its confidence; ``base`` is then
    trained on labeled plus pseudo-labeled rows, which makes the learner
    inductive (it predicts new items) and lets the pool's cluster structure
    shape the decision boundary.

    Parameters
    ----------
    base : Learner or None
        The supervised learner trained on the spread labels (default
        ``LogisticLearner(calibrate=False)``); it must accept ``classes``.
    classes : sequence or None
        As for :class:`LogisticLearner`.
    n_neighbors : int
        Neighbours per item in the cosine kNN graph.
    alpha : float in (0, 1)
        Spreading strength (see :func:`hitloop.ml.semisupervised.spread_labels`).
    unlabeled_weight : float
        Scales the confidence weights of pseudo-labeled rows.
    min_confidence : float
        Pseudo-labels with a lower spread confidence are left out.
    calibrate : bool
        Cross-validated temperature scaling of the final probabilities.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    base_ : Learner
    label_distributions_ : ndarray of shape (n_items, n_classes)
        Spread class distributions of the training rows.

    References
    ----------
    D. Zhou et al., "Learning with Local and Global Consistency", NIPS 2004.
    """

    def __init__(
        self,
        base: Learner | None = None,
        classes: Any = None,
        n_neighbors: int = 10,
        alpha: float = 0.2,
        unlabeled_weight: float = 1.0,
        min_confidence: float = 0.0,
        calibrate: bool = True,
    ) -> None:
        self.base = base
        self.classes = classes
        self.n_neighbors = n_neighbors
        self.alpha = alpha
        self.unlabeled_weight = unlabeled_weight
        self.min_confidence = min_confidence
        self.calibrate = calibrate

    def _fit(
        self,
        X: Features,
        y: NDArray[Any],
        labeled: NDArray[np.intp],
        codes: NDArray[np.intp],
        w: NDArray[np.float64],
    ) -> None:
        if self.n_neighbors < 1:
            raise ValueError(f"n_neighbors must be at least 1, got {self.n_neighbors}")
        base = LogisticLearner(calibrate=False) if self.base is None else self.base
        self.base_ = clone(base).set_params(classes=list(self.classes_))
        n_classes = len(self.classes_)
        if len(labeled) == X.shape[0]:
            self.label_distributions_ = np.eye(n_classes)[codes]
            self.base_.fit(X, self.classes_[codes], sample_weight=w)
            return
        F = spread_labels(knn_graph(X, self.n_neighbors), labeled, codes, n_classes, alpha=self.alpha)
        self.label_distributions_ = F
        pseudo = F.argmax(axis=1)
        confidence = F.max(axis=1)
        weights = np.where(confidence >= self.min_confidence, confidence * self.unlabeled_weight, 0.0)
        pseudo[labeled] = codes
        weights[labeled] = w[labeled]
        keep = np.flatnonzero(weights > 0)
        self.base_.fit(X[keep], self.classes_[pseudo[keep]], sample_weight=weights[keep])

    def decision_function(self, X: Any) -> NDArray[np.float64]:
        """Logits of ``base_``, shape (n_items, len(classes_))."""
        check_is_fitted(self, "base_")
        return np.asarray(self.base_.decision_function(X), dtype=np.float64)
