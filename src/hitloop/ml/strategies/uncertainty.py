"""Uncertainty sampling: least confidence, margin, entropy, density-weighted and cluster-covering margin."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from hitloop.ml.memo import FeatureMemo
from hitloop.ml.strategies.base import Pool, QueryStrategy
from hitloop.ml.strategies.scoring import cluster_density, entropy, least_confidence, margin_uncertainty
from hitloop.ml.strategies.selection import diverse_top_n, top_n, uncovered_representatives

__all__ = [
    "CoverMargin",
    "DensityWeightedMargin",
    "DiverseMargin",
    "Entropy",
    "LeastConfidence",
    "Margin",
    "RandomSampling",
    "UncertaintySampling",
]

_BATCH_MODES = ("top", "diverse")


class RandomSampling(QueryStrategy):
    """Items in uniformly random order: the baseline every strategy must beat."""

    needs_model = False

    def _score(self, pool: Pool, rng: np.random.Generator) -> NDArray[np.float64]:
        return rng.random(pool.n_items)


class UncertaintySampling(QueryStrategy):
    """Score items with ``measure`` on the model's probabilities; pick the top, optionally diversified.

    Parameters
    ----------
    batch : {"top", "diverse"}
        "top" takes the n highest scores; "diverse" clusters the
        ``candidates * n`` highest into n groups and takes the best of each,
        so a batch holds no near-duplicates.
    candidates : int
        Candidate multiple for ``batch="diverse"``.
    """

    pointwise = True

    def __init__(self, batch: str = "top", candidates: int = 5) -> None:
        self.batch = batch
        self.candidates = candidates

    def _measure(self, P: NDArray[np.float64]) -> NDArray[np.float64]:
        raise NotImplementedError

    def _score(self, pool: Pool, rng: np.random.Generator) -> NDArray[np.float64]:
        return self._measure(pool.probabilities)

    def _select(self, pool: Pool, n: int, rng: np.random.Generator) -> NDArray[np.intp]:
        if self.batch not in _BATCH_MODES:
            raise ValueError(f"batch must be one of {_BATCH_MODES}, got {self.batch!r}")
        scores = self.score(pool, rng)
        if self.batch == "top":
            return top_n(scores, n, pool.excluded, rng)
        return diverse_top_n(scores, pool.X, n, pool.excluded, rng, candidates=self.candidates)


class LeastConfidence(UncertaintySampling):
    """Least confident first (:func:`~hitloop.ml.strategies.scoring.least_confidence`; Lewis & Gale, 1994)."""

    def _measure(self, P: NDArray[np.float64]) -> NDArray[np.float64]:
        return least_confidence(P)


class Margin(UncertaintySampling):
    """Smallest top-two margin first (:func:`~.scoring.margin`; Scheffer et al., 2001)."""

    def _measure(self, P: NDArray[np.float64]) -> NDArray[np.float64]:
        return margin_uncertainty(P)


class Entropy(UncertaintySampling):
    """Highest predictive entropy first (:func:`~hitloop.ml.strategies.scoring.entropy`)."""

    def _measure(self, P: NDArray[np.float64]) -> NDArray[np.float64]:
        return entropy(P)


class DiverseMargin(Margin):
    """Margin with diverse batches (:func:`~hitloop.ml.strategies.selection.diverse_top_n`).

    Falls back to cold start (cluster representatives) before a model
    exists. Same parameters as :class:`UncertaintySampling`, with
    ``batch="diverse"`` by default.
    """

    def __init__(self, batch: str = "diverse", candidates: int = 5) -> None:
        super().__init__(batch=batch, candidates=candidates)


class CoverMargin(DiverseMargin):
    """Cover the pool's clusters first, then margin with diverse batches.

    While the labels number fewer than ``per_class`` times the classes, each
    batch takes the representatives (nearest the centre) of k-means clusters
    of the pool that hold no label yet, with k = labels + batch, largest and
    most uncertain clusters first
    (:func:`~hitloop.ml.strategies.selection.uncovered_representatives`);
    the rest of the batch, and every batch after, is :class:`DiverseMargin`.
    Made for data whose classes split into several clusters each (a spoken
    word by each speaker): early labels then reach every cluster instead of
    refining the boundaries of the clusters already seen. ``score`` (the
    queue order after the batch) is margin uncertainty.

    Parameters
    ----------
    per_class : float
        Labels per class (of the model's class list) up to which batches
        cover clusters; 0 makes this :class:`DiverseMargin`.
    batch, candidates
        As in :class:`UncertaintySampling`, for the margin part.

    References
    ----------
    G. Hacohen, A. Dekel and D. Weinshall, "Active Learning on a Budget:
    Opposite Strategies Suit High and Low Budgets", ICML 2022.
    """

    def __init__(self, per_class: float = 5.0, batch: str = "diverse", candidates: int = 5) -> None:
        super().__init__(batch=batch, candidates=candidates)
        self.per_class = per_class

    def _select(self, pool: Pool, n: int, rng: np.random.Generator) -> NDArray[np.intp]:
        if not self.per_class >= 0:
            raise ValueError(f"per_class must be >= 0, got {self.per_class}")
        P = pool.probabilities
        cover = min(n, int(np.ceil(self.per_class * P.shape[1])) - len(pool.labeled))
        if cover <= 0:
            return super()._select(pool, n, rng)
        first = uncovered_representatives(
            pool.X, pool.labeled, cover, margin_uncertainty(P), pool.excluded, rng
        )
        if len(first) == n:
            return first
        rest = Pool(pool.X, labeled=pool.labeled, learner=pool.learner, proba=P,
                    exclude=np.union1d(pool.exclude, first))  # fmt: skip
        return np.concatenate([first, super()._select(rest, n - len(first), rng)]).astype(np.intp)


class DensityWeightedMargin(UncertaintySampling):
    """Margin uncertainty times cluster density: uncertain items in dense regions first.

    ``score = (1 - margin) * density ** beta``, with density the cosine
    similarity of an item to its k-means cluster centre
    (:func:`~hitloop.ml.strategies.scoring.cluster_density`, centres fit on
    at most 5,000 items, computed once per feature object), so outliers,
    uncertain but unrepresentative, wait.

    Parameters
    ----------
    beta : float
        Weight of density relative to uncertainty (0 = plain margin).
    n_clusters : int
    batch, candidates
        As in :class:`UncertaintySampling`.

    References
    ----------
    B. Settles and M. Craven, "An Analysis of Active Learning Strategies for
    Sequence Labeling Tasks", EMNLP 2008 (information density).
    """

    pointwise = False  # density comes from clusters of the whole pool

    def __init__(
        self, beta: float = 1.0, n_clusters: int = 20, batch: str = "top", candidates: int = 5
    ) -> None:
        super().__init__(batch=batch, candidates=candidates)
        self.beta = beta
        self.n_clusters = n_clusters

    def _score(self, pool: Pool, rng: np.random.Generator) -> NDArray[np.float64]:
        density = _pool_density(pool.X, self.n_clusters)
        return margin_uncertainty(pool.probabilities) * density**self.beta


# Density depends on the pool's features alone; a fixed seed makes it a function of them.
_DENSITY: FeatureMemo[NDArray[np.float64]] = FeatureMemo()


# Centres of 20 clusters are well placed by 5,000 items; more only slows the first scoring of a large pool.
_DENSITY_FIT_ROWS = 5_000


def _pool_density(X: Any, n_clusters: int) -> NDArray[np.float64]:
    return _DENSITY.get(
        X, n_clusters, lambda: cluster_density(X, n_clusters, rng=0, max_fit=_DENSITY_FIT_ROWS)
    )
