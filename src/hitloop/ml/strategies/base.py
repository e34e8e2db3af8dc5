"""What every query strategy sees (:class:`Pool`) and does (:class:`QueryStrategy`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar

import numpy as np
from numpy.typing import NDArray
from sklearn.base import BaseEstimator

from hitloop.ml.linalg import Features, as_generator
from hitloop.ml.strategies.selection import allowed_mask, cluster_representatives, top_n

__all__ = ["Pool", "QueryStrategy", "RandomState"]

RandomState = int | np.random.Generator | None


def _indices(values: Any, n_items: int, name: str) -> NDArray[np.intp]:
    idx = np.asarray(values if values is not None else [], dtype=np.intp).ravel()
    if idx.size and (idx.min() < 0 or idx.max() >= n_items):
        raise IndexError(f"{name} has indices outside 0..{n_items - 1}")
    return idx


@dataclass(frozen=True, eq=False)
class Pool:
    """The items a strategy chooses from, and what is known about them.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_items, n_features)
        Features of every item of the project, labeled or not.
    labeled : array-like of int, shape (n_labeled,)
        Items that already have a label; never selected again.
    y : array-like of shape (n_labeled,) or None
        Their labels, in the order of ``labeled`` (committees retrain on them).
    learner : fitted learner or None
        The current model (``predict_proba``, ``classes_``, scikit-learn
        clonable); None before the first training.
    proba : ndarray of shape (n_items, n_classes) or None
        ``learner.predict_proba(X)`` when the caller already has it.
    exclude : array-like of int
        Further items never to select (for example, leased to someone).
    """

    X: Features
    labeled: Any = field(default_factory=lambda: np.empty(0, dtype=np.intp))
    y: Any = None
    learner: Any = None
    proba: Any = None
    exclude: Any = field(default_factory=lambda: np.empty(0, dtype=np.intp))

    def __post_init__(self) -> None:
        n = self.n_items
        object.__setattr__(self, "labeled", _indices(self.labeled, n, "labeled"))
        object.__setattr__(self, "exclude", _indices(self.exclude, n, "exclude"))
        if self.y is not None:
            y = np.asarray(self.y)
            if len(y) != len(self.labeled):
                raise ValueError(f"{len(self.labeled)} labeled items but {len(y)} labels")
            object.__setattr__(self, "y", y)
        if self.proba is not None:
            P = np.asarray(self.proba, dtype=np.float64)
            if P.ndim != 2 or P.shape[0] != n:
                raise ValueError(f"proba must have shape ({n}, n_classes), got {P.shape}")
            object.__setattr__(self, "proba", P)

    @property
    def n_items(self) -> int:
        return int(self.X.shape[0])

    @property
    def has_model(self) -> bool:
        return self.learner is not None or self.proba is not None

    @cached_property
    def probabilities(self) -> NDArray[np.float64]:
        """Class probabilities of every item, shape (n_items, n_classes)."""
        if self.proba is not None:
            return np.asarray(self.proba)
        if self.learner is None:
            raise ValueError("this strategy needs a trained model (learner or proba)")
        return np.asarray(self.learner.predict_proba(self.X), dtype=np.float64)

    @cached_property
    def excluded(self) -> NDArray[np.intp]:
        """Labeled and excluded items together, sorted and unique."""
        return np.union1d(self.labeled, self.exclude).astype(np.intp)

    @property
    def n_selectable(self) -> int:
        return self.n_items - len(self.excluded)


class QueryStrategy(BaseEstimator):  # type: ignore[misc]
    """Base class: a pure scoring function plus a pure selection function, composed.

    Subclasses implement ``_score(pool, rng) -> (n_items,)`` (higher = ask
    sooner) and may override ``_select`` for batch-aware selection.
    ``select`` picks the batch a person labels next; ``score`` gives every
    item a priority for the queue (excluded items get -inf).

    A strategy that needs a model (``needs_model``) and is given none falls
    back to cold start: one representative per k-means cluster
    (:func:`~hitloop.ml.strategies.selection.cluster_representatives`).
    """

    #: True when scoring reads class probabilities, i.e. needs a trained model.
    needs_model: ClassVar[bool] = True
    #: True when an item's score depends only on the model and that item's own features
    #: (not on the rest of the pool, the labels or the random state): items added later
    #: can then be scored alone and placed among the others' scores.
    pointwise: ClassVar[bool] = False

    def _score(self, pool: Pool, rng: np.random.Generator) -> NDArray[np.float64]:
        raise NotImplementedError

    def _select(self, pool: Pool, n: int, rng: np.random.Generator) -> NDArray[np.intp]:
        return top_n(self.score(pool, rng), n, pool.excluded, rng)

    def score(self, pool: Pool, random_state: RandomState = None) -> NDArray[np.float64]:
        """Priority of every item, shape (n_items,); -inf for labeled and excluded items.

        Parameters
        ----------
        pool : Pool
        random_state : int, Generator or None
        """
        rng = as_generator(random_state)
        if self.needs_model and not pool.has_model:
            scores = np.zeros(pool.n_items)
        else:
            scores = np.asarray(self._score(pool, rng), dtype=np.float64).copy()
            if scores.shape != (pool.n_items,):
                raise ValueError(f"{type(self).__name__} scored shape {scores.shape}, not ({pool.n_items},)")
        scores[~allowed_mask(pool.n_items, pool.excluded)] = -np.inf
        return scores

    def select(self, pool: Pool, n: int, random_state: RandomState = None) -> NDArray[np.intp]:
        """The next ``n`` items to label.

        Parameters
        ----------
        pool : Pool
        n : int
            Batch size; fewer come back when fewer items are selectable.
        random_state : int, Generator or None
            Makes the choice reproducible.

        Returns
        -------
        ndarray of int, shape (min(n, pool.n_selectable),)
            Unique item indices, none labeled or excluded, first to label first.
        """
        if not isinstance(n, int | np.integer) or n < 0:
            raise ValueError(f"n must be a non-negative integer, got {n!r}")
        rng = as_generator(random_state)
        if n == 0 or pool.n_selectable == 0:
            return np.empty(0, dtype=np.intp)
        if self.needs_model and not pool.has_model:
            return cluster_representatives(pool.X, int(n), pool.excluded, rng)
        return np.asarray(self._select(pool, int(n), rng), dtype=np.intp)
