"""Batch-diverse strategies: k-center greedy (core-set), BADGE, and cold start by clustering."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from hitloop.ml.linalg import KroneckerGeometry, RowGeometry
from hitloop.ml.strategies.base import Pool, QueryStrategy
from hitloop.ml.strategies.scoring import cluster_density, gradient_embedding_factors
from hitloop.ml.strategies.selection import cluster_representatives, k_center_greedy, kmeans_pp

__all__ = ["Badge", "ColdStart", "KCenterGreedy"]


class KCenterGreedy(QueryStrategy):
    """Core-set: cover the feature space, each pick farthest from everything labeled so far.

    Needs no model. ``score`` is the squared distance to the nearest
    labeled item.

    Parameters
    ----------
    uncertainty_weighted : bool
        Multiply distances by the margin uncertainty of the current model
        (when there is one), trading coverage for informativeness.

    References
    ----------
    O. Sener and S. Savarese, "Active Learning for Convolutional Neural
    Networks: A Core-Set Approach", ICLR 2018.
    """

    needs_model = False

    def __init__(self, uncertainty_weighted: bool = False) -> None:
        self.uncertainty_weighted = uncertainty_weighted

    def _weights(self, pool: Pool) -> NDArray[np.float64] | None:
        if not (self.uncertainty_weighted and pool.has_model):
            return None
        P = pool.probabilities
        top2 = np.sort(P, axis=1)[:, -2:] if P.shape[1] > 1 else np.ones((len(P), 2))
        return np.asarray(1.0 - (top2[:, 1] - top2[:, 0]) + 1e-6)

    def _score(self, pool: Pool, rng: np.random.Generator) -> NDArray[np.float64]:
        geometry = RowGeometry(pool.X)
        nearest = np.full(pool.n_items, np.inf)
        for c in pool.labeled:
            nearest = np.minimum(nearest, geometry.sqdist(int(c)))
        if not np.isfinite(nearest).any():
            nearest = geometry.sqnorms.copy()
        weights = self._weights(pool)
        return nearest if weights is None else nearest * weights

    def _select(self, pool: Pool, n: int, rng: np.random.Generator) -> NDArray[np.intp]:
        geometry = RowGeometry(pool.X)
        return k_center_greedy(geometry, n, pool.labeled, pool.exclude, rng, weights=self._weights(pool))


class Badge(QueryStrategy):
    """BADGE: k-means++ seeding over gradient embeddings ``(p - onehot(ŷ)) ⊗ x``.

    Large embeddings are uncertain items with strong features; k-means++
    spreads the batch over different directions. The embeddings are never
    materialized (:class:`~hitloop.ml.linalg.KroneckerGeometry`), so sparse
    text features work. ``score`` is the embedding's squared norm.

    References
    ----------
    J. T. Ash, C. Zhang, A. Krishnamurthy, J. Langford and A. Agarwal, "Deep
    Batch Active Learning by Diverse, Uncertain Gradient Lower Bounds", ICLR 2020.
    """

    def _geometry(self, pool: Pool) -> KroneckerGeometry:
        return KroneckerGeometry(gradient_embedding_factors(pool.probabilities), pool.X)

    def _score(self, pool: Pool, rng: np.random.Generator) -> NDArray[np.float64]:
        return self._geometry(pool).sqnorms

    def _select(self, pool: Pool, n: int, rng: np.random.Generator) -> NDArray[np.intp]:
        return kmeans_pp(self._geometry(pool), n, pool.excluded, rng)


class ColdStart(QueryStrategy):
    """Representative items: one per k-means cluster of the unlabeled pool, nearest its centre.

    For the first labels, before any model exists (every model-based
    strategy falls back to this). ``score`` is cluster density.

    Parameters
    ----------
    n_clusters : int
        Clusters used for ``score`` (``select`` uses one cluster per item
        of the batch).

    References
    ----------
    H. T. Nguyen and A. Smeulders, "Active Learning Using Pre-clustering",
    ICML 2004.
    """

    needs_model = False

    def __init__(self, n_clusters: int = 20) -> None:
        self.n_clusters = n_clusters

    def _score(self, pool: Pool, rng: np.random.Generator) -> NDArray[np.float64]:
        return cluster_density(pool.X, self.n_clusters, rng)

    def _select(self, pool: Pool, n: int, rng: np.random.Generator) -> NDArray[np.intp]:
        return cluster_representatives(pool.X, n, pool.excluded, rng)
