"""Batch-diverse strategies: k-center greedy (core-set), BADGE, and cold start by clustering."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import NDArray

from hitloop.ml.linalg import KroneckerGeometry, RowGeometry, min_sqdist, row_sqnorms
from hitloop.ml.memo import FeatureMemo
from hitloop.ml.strategies.base import Pool, QueryStrategy
from hitloop.ml.strategies.scoring import cluster_density, gradient_embedding_factors, margin_uncertainty
from hitloop.ml.strategies.selection import (
    allowed_mask,
    cluster_representatives,
    k_center_greedy,
    kmeans_pp,
    top_n,
)

__all__ = ["Badge", "ColdStart", "KCenterGreedy"]


# Feature norms depend on the pool's features alone: computed once per feature object.
_SQNORMS: FeatureMemo[NDArray[np.float64]] = FeatureMemo()


def _pool_sqnorms(X: Any) -> NDArray[np.float64]:
    return _SQNORMS.get(X, "sqnorms", lambda: row_sqnorms(X))


def _candidates(pool: Pool, limit: int | None, rng: np.random.Generator) -> NDArray[np.intp]:
    """Every selectable item, or a uniform random sample of ``limit`` of them on larger pools."""
    if limit is not None and limit < 1:
        raise ValueError(f"max_candidates must be at least 1 or None, got {limit}")
    selectable = np.flatnonzero(allowed_mask(pool.n_items, pool.excluded))
    if limit is not None and len(selectable) > limit:
        return np.sort(rng.choice(selectable, limit, replace=False)).astype(np.intp)
    return selectable.astype(np.intp)


class KCenterGreedy(QueryStrategy):
    """Core-set: cover the feature space, each pick farthest from everything labeled so far.

    Needs no model. ``score`` is the squared distance to the nearest
    labeled item.

    Parameters
    ----------
    uncertainty_weighted : bool
        Multiply distances by the margin uncertainty of the current model
        (when there is one), trading coverage for informativeness.
    max_candidates : int or None
        On pools with more selectable items, the greedy cover runs over a
        uniform random sample of this many (distances to every labeled item
        are still exact). A random sample of 20,000 covers the same regions
        as the pool up to sampling error, and bounds a batch's cost on a
        million items; None always uses the whole pool.

    References
    ----------
    O. Sener and S. Savarese, "Active Learning for Convolutional Neural
    Networks: A Core-Set Approach", ICLR 2018.
    """

    needs_model = False

    def __init__(self, uncertainty_weighted: bool = False, max_candidates: int | None = 20_000) -> None:
        self.uncertainty_weighted = uncertainty_weighted
        self.max_candidates = max_candidates

    def _weights(self, pool: Pool, rows: NDArray[np.intp] | None = None) -> NDArray[np.float64] | None:
        if not (self.uncertainty_weighted and pool.has_model):
            return None
        P = pool.probabilities if rows is None else pool.probabilities[rows]
        return np.asarray(margin_uncertainty(P) + 1e-6)

    def _score(self, pool: Pool, rng: np.random.Generator) -> NDArray[np.float64]:
        nearest = min_sqdist(pool.X, np.arange(pool.n_items), pool.labeled)
        if not np.isfinite(nearest).any():
            nearest = _pool_sqnorms(pool.X).copy()
        weights = self._weights(pool)
        return nearest if weights is None else nearest * weights

    def _select(self, pool: Pool, n: int, rng: np.random.Generator) -> NDArray[np.intp]:
        rows = _candidates(pool, self.max_candidates, rng)
        covered = min_sqdist(pool.X, rows, pool.labeled)
        picks = k_center_greedy(
            RowGeometry(pool.X[rows]), n, rng=rng, weights=self._weights(pool, rows), covered=covered
        )
        return np.asarray(rows[picks], dtype=np.intp)


class Badge(QueryStrategy):
    """BADGE: k-means++ seeding over gradient embeddings ``(p - onehot(ŷ)) ⊗ x``.

    Large embeddings are uncertain items with strong features; k-means++
    spreads the batch over different directions. The embeddings are never
    materialized (:class:`~hitloop.ml.linalg.KroneckerGeometry`), so sparse
    text features work. ``score`` is the embedding's squared norm.

    Parameters
    ----------
    max_candidates : int or None
        On pools with more selectable items, k-means++ runs over the this
        many largest embeddings. Its draws are proportional to squared
        distance, so small embeddings (confident items) are rarely drawn
        anyway; the cut bounds a batch's cost on a million items. None
        always uses the whole pool.

    References
    ----------
    J. T. Ash, C. Zhang, A. Krishnamurthy, J. Langford and A. Agarwal, "Deep
    Batch Active Learning by Diverse, Uncertain Gradient Lower Bounds", ICLR 2020.
    """

    def __init__(self, max_candidates: int | None = 20_000) -> None:
        self.max_candidates = max_candidates

    def _factors(self, pool: Pool) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        A = gradient_embedding_factors(pool.probabilities)
        return A, np.einsum("ij,ij->i", A, A) * _pool_sqnorms(pool.X)

    def _score(self, pool: Pool, rng: np.random.Generator) -> NDArray[np.float64]:
        return self._factors(pool)[1]

    def _select(self, pool: Pool, n: int, rng: np.random.Generator) -> NDArray[np.intp]:
        if self.max_candidates is not None and self.max_candidates < 1:
            raise ValueError(f"max_candidates must be at least 1 or None, got {self.max_candidates}")
        A, sqnorms = self._factors(pool)
        if self.max_candidates is not None and pool.n_selectable > self.max_candidates:
            rows = np.sort(top_n(sqnorms, self.max_candidates, pool.excluded, rng))
        else:
            rows = np.flatnonzero(allowed_mask(pool.n_items, pool.excluded)).astype(np.intp)
        picks = kmeans_pp(KroneckerGeometry(A[rows], pool.X[rows]), n, rng=rng)
        return np.asarray(rows[picks], dtype=np.intp)


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
