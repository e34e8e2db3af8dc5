"""Replay labeling with a simulated annotator who answers from known labels.

The core of ``hitloop simulate`` and of the label-efficiency benchmark: pure,
in-process, deterministic given ``random_state``. For each repeat, a
stratified held-out split is set aside; the rest is the pool. Seed labels are
drawn, then the learner is trained, evaluated on the held-out split, and the
strategy picks the next batch, until the budget is spent.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from sklearn.base import clone
from sklearn.model_selection import ShuffleSplit, StratifiedShuffleSplit

from hitloop.ml.learners import UNLABELED
from hitloop.ml.linalg import Features, check_features
from hitloop.ml.strategies.base import Pool, QueryStrategy

__all__ = ["SimulationResult", "simulate"]

SEED_SELECTIONS = ("random", "strategy")


@dataclass(frozen=True)
class SimulationResult:
    """Learning curves of one strategy over several repeats.

    Attributes
    ----------
    labels : ndarray of int, shape (n_steps,)
        Number of labeled items at each evaluation.
    accuracy : ndarray of shape (n_repeats, n_steps)
        Held-out accuracy after training on that many labels.
    reference_accuracy : ndarray of shape (n_repeats,)
        Held-out accuracy of the same learner trained on the whole pool.
    seconds : float
        Wall time of the simulation.
    """

    labels: NDArray[np.intp]
    accuracy: NDArray[np.float64]
    reference_accuracy: NDArray[np.float64]
    seconds: float

    @property
    def mean(self) -> NDArray[np.float64]:
        """Mean accuracy over repeats, shape (n_steps,)."""
        return np.asarray(self.accuracy.mean(axis=0))

    @property
    def std(self) -> NDArray[np.float64]:
        """Standard deviation of accuracy over repeats, shape (n_steps,)."""
        return np.asarray(self.accuracy.std(axis=0))

    def labels_to_target(self, target: float = 0.95, reference: float | None = None) -> int | None:
        """Fewest labels at which the mean curve reaches ``target * reference``.

        Parameters
        ----------
        target : float
            Fraction of the reference accuracy to reach.
        reference : float or None
            Accuracy to take the fraction of; default the mean accuracy of
            this learner trained on the whole pool.

        Returns
        -------
        int or None
            None when the budget ran out first.
        """
        bar = target * (float(self.reference_accuracy.mean()) if reference is None else reference)
        hits = np.flatnonzero(self.mean >= bar)
        return int(self.labels[hits[0]]) if len(hits) else None

    def labels_to_target_per_repeat(self, target: float = 0.95) -> list[int | None]:
        """:meth:`labels_to_target` of each repeat against its own reference."""
        out: list[int | None] = []
        for curve, ref in zip(self.accuracy, self.reference_accuracy, strict=True):
            hits = np.flatnonzero(curve >= target * ref)
            out.append(int(self.labels[hits[0]]) if len(hits) else None)
        return out

    def to_dict(self, target: float = 0.95) -> dict[str, Any]:
        """JSON-ready summary: the curve (mean, std, each repeat), reference and labels to target."""
        return {
            "labels": self.labels.tolist(),
            "accuracy_mean": np.round(self.mean, 5).tolist(),
            "accuracy_std": np.round(self.std, 5).tolist(),
            "accuracy": np.round(self.accuracy, 5).tolist(),
            "reference_accuracy": np.round(self.reference_accuracy, 5).tolist(),
            "target": target,
            "labels_to_target": self.labels_to_target(target),
            "labels_to_target_per_repeat": self.labels_to_target_per_repeat(target),
            "seconds": round(self.seconds, 3),
        }


def _new_learner(learner: Any, n_classes: int) -> Any:
    est = clone(learner) if hasattr(learner, "get_params") else learner()
    if "classes" in est.get_params() and est.get_params()["classes"] is None:
        est.set_params(classes=list(range(n_classes)))
    return est


def _split(y: NDArray[np.intp], test_size: float, seed: int) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
    counts = np.bincount(y)
    splitter: Any = StratifiedShuffleSplit if counts[counts > 0].min() >= 2 else ShuffleSplit
    pool, test = next(splitter(n_splits=1, test_size=test_size, random_state=seed).split(np.zeros(len(y)), y))
    return np.asarray(pool, dtype=np.intp), np.asarray(test, dtype=np.intp)


def _accuracy(model: Any, X: Features, y: NDArray[np.intp], fallback: int) -> float:
    predicted = np.full(len(y), fallback) if model is None else np.asarray(model.predict(X))
    return float(np.mean(predicted == y))


def simulate(
    X: Any,
    y: Any,
    *,
    learner: Any,
    strategy: QueryStrategy,
    seed_labels: int = 10,
    batch_size: int = 10,
    budget: int = 200,
    repeats: int = 5,
    test_size: float = 0.3,
    seed_selection: str = "random",
    random_state: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> SimulationResult:
    """Simulate active learning and return the learning curve.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_items, n_features)
        Features of every item.
    y : array-like of shape (n_items,)
        The true labels the simulated annotator answers with.
    learner : estimator or callable
        A learner (cloned for every training) or a zero-argument factory. If
        it has a ``classes`` parameter left at None, it is set to all classes
        of ``y``, as a project's label set would be.
    strategy : QueryStrategy
    seed_labels : int
        Labels before the first training.
    batch_size : int
        Labels per round between trainings.
    budget : int
        Stop at this many labels (capped at the pool size).
    repeats : int
        Independent runs, each with its own split, seeds and strategy randomness.
    test_size : float
        Held-out fraction per repeat (stratified).
    seed_selection : {"random", "strategy"}
        "random" draws the seed labels uniformly (as the reference protocol
        does); "strategy" lets the strategy pick them with no model, which
        for model-based strategies means cold start by clustering.
    random_state : int
    progress : callable or None
        Called as ``progress(done, total)`` after every training.

    Returns
    -------
    SimulationResult
    """
    started = time.perf_counter()
    X = check_features(X)
    _, codes = np.unique(np.asarray(y), return_inverse=True)
    codes = codes.astype(np.intp)
    n_classes = int(codes.max()) + 1
    if len(codes) != X.shape[0]:
        raise ValueError(f"X has {X.shape[0]} rows but y has {len(codes)} labels")
    if seed_selection not in SEED_SELECTIONS:
        raise ValueError(f"seed_selection must be one of {SEED_SELECTIONS}, got {seed_selection!r}")
    if min(seed_labels, batch_size, repeats) < 1:
        raise ValueError("seed_labels, batch_size and repeats must be at least 1")
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size must be in (0, 1), got {test_size}")
    n_pool = X.shape[0] - int(np.ceil(test_size * X.shape[0]))
    budget = min(budget, n_pool)
    if seed_labels > budget:
        raise ValueError(f"seed_labels ({seed_labels}) exceed the budget or pool ({budget})")
    steps = [*range(seed_labels, budget, batch_size), budget]
    curves = np.zeros((repeats, len(steps)))
    references = np.zeros(repeats)
    for r in range(repeats):
        split_seed = int(np.random.SeedSequence([random_state, r]).generate_state(1)[0])
        pool_idx, test_idx = _split(codes, test_size, split_seed)
        X_pool, y_pool = X[pool_idx], codes[pool_idx]
        X_test, y_test = X[test_idx], codes[test_idx]
        rng = np.random.default_rng([random_state, r, 1])
        references[r] = _accuracy(_new_learner(learner, n_classes).fit(X_pool, y_pool), X_test, y_test, 0)
        if seed_selection == "random":
            labeled = rng.choice(len(y_pool), seed_labels, replace=False).astype(np.intp)
        else:
            labeled = strategy.select(Pool(X_pool), seed_labels, rng)
        for step in range(len(steps)):
            y_train = np.full(len(y_pool), UNLABELED, dtype=np.intp)
            y_train[labeled] = y_pool[labeled]
            seen = np.unique(y_pool[labeled])
            model = _new_learner(learner, n_classes).fit(X_pool, y_train) if len(seen) >= 2 else None
            curves[r, step] = _accuracy(model, X_test, y_test, int(seen[0]))
            if progress is not None:
                progress(r * len(steps) + step + 1, repeats * len(steps))
            if step + 1 == len(steps):
                break
            pool = Pool(X_pool, labeled=labeled, y=y_pool[labeled], learner=model)
            wanted = steps[step + 1] - len(labeled)
            labeled = np.concatenate([labeled, strategy.select(pool, wanted, rng)])
            if len(labeled) != steps[step + 1]:
                raise RuntimeError(
                    f"{type(strategy).__name__} returned {len(labeled)} labels, wanted {wanted}"
                )
    return SimulationResult(
        labels=np.asarray(steps, dtype=np.intp),
        accuracy=curves,
        reference_accuracy=references,
        seconds=time.perf_counter() - started,
    )
