"""Pure selection functions: scores (or a geometry) in, a batch of item indices out.

Each returns at most ``n`` unique indices, never one in ``exclude``, in the
order a person should see them, and is deterministic given ``rng``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.cluster import KMeans

from hitloop.ml.linalg import (
    CHUNK_ROWS,
    Features,
    KroneckerGeometry,
    RowGeometry,
    as_generator,
    min_sqdist,
    normalized_rows,
    one_blas_thread,
)

__all__ = [
    "allowed_mask",
    "cluster_representatives",
    "diverse_top_n",
    "k_center_greedy",
    "kmeans_pp",
    "top_n",
    "uncovered_representatives",
]

IntArray = NDArray[np.intp]


def allowed_mask(n_items: int, exclude: Any = None) -> NDArray[np.bool_]:
    """Boolean mask of shape (n_items,), False at every index in ``exclude``."""
    mask = np.ones(n_items, dtype=bool)
    if exclude is not None:
        idx = np.asarray(exclude, dtype=np.intp).ravel()
        if idx.size and (idx.min() < -n_items or idx.max() >= n_items):
            raise IndexError(f"exclude has indices outside 0..{n_items - 1}")
        mask[idx] = False
    return mask


def top_n(scores: Any, n: int, exclude: Any = None, rng: int | np.random.Generator | None = None) -> IntArray:
    """Indices of the ``n`` highest finite scores, ties broken at random.

    Parameters
    ----------
    scores : array-like of shape (n_items,)
        Higher is better; NaN and -inf are never selected.
    n : int
    exclude : array-like of int or None
    rng : seed or Generator

    Returns
    -------
    ndarray of int, shape (min(n, n_selectable),)
        Best first.
    """
    s = np.asarray(scores, dtype=np.float64)
    if s.ndim != 1:
        raise ValueError(f"scores must be 1-D, got shape {s.shape}")
    if n < 0:
        raise ValueError(f"n must be non-negative, got {n}")
    ok = allowed_mask(len(s), exclude) & ~np.isnan(s) & (s > -np.inf)
    candidates = np.flatnonzero(ok)
    k = min(n, len(candidates))
    if k == 0:
        return np.empty(0, dtype=np.intp)
    # A random permutation first, then a stable sort: equal scores come out in random order.
    candidates = as_generator(rng).permutation(candidates)
    values = s[candidates]
    if k < len(candidates):
        part = np.argpartition(-values, k - 1)[:k]
        threshold = values[part].min()
        # Keep every candidate tied at the threshold so the random tie order decides.
        keep = np.flatnonzero(values >= threshold)
        candidates, values = candidates[keep], values[keep]
    order = np.argsort(-values, kind="stable")[:k]
    return np.asarray(candidates[order], dtype=np.intp)


def k_center_greedy(
    geometry: RowGeometry,
    n: int,
    centers: Any = None,
    exclude: Any = None,
    rng: int | np.random.Generator | None = None,
    weights: Any = None,
    covered: Any = None,
) -> IntArray:
    """Greedy k-center: repeatedly take the item farthest from every center so far.

    Parameters
    ----------
    geometry : RowGeometry
        Distances between items (dense or sparse features).
    n : int
    centers : array-like of int or None
        Items already covered (the labeled set); if empty, the first pick is
        the item with the largest ``weights`` (random when unweighted).
    exclude : array-like of int or None
        Items never picked (``centers`` are never picked either).
    rng : seed or Generator
    weights : array-like of shape (n_items,) or None
        Multiplies each item's distance (e.g. uncertainty), favoring
        informative items among distant ones.
    covered : array-like of shape (n_items,) or None
        Squared distance of each item to points covered outside ``geometry``
        (say, labeled items left out of a candidate sample); +inf if none.

    Returns
    -------
    ndarray of int, shape (min(n, n_selectable),)
        In pick order.

    References
    ----------
    O. Sener and S. Savarese, "Active Learning for Convolutional Neural
    Networks: A Core-Set Approach", ICLR 2018.
    """
    n_items = len(geometry)
    gen = as_generator(rng)
    centers = np.empty(0, dtype=np.intp) if centers is None else np.asarray(centers, dtype=np.intp).ravel()
    ok = allowed_mask(n_items, exclude)
    ok[centers] = False
    w = np.ones(n_items) if weights is None else np.asarray(weights, dtype=np.float64)
    k = min(n, int(ok.sum()))
    nearest = np.full(n_items, np.inf) if covered is None else np.asarray(covered, dtype=np.float64).copy()
    if len(centers) and isinstance(geometry, KroneckerGeometry):
        for c in centers:
            nearest = np.minimum(nearest, geometry.sqdist(int(c)))
    elif len(centers):
        nearest = np.minimum(nearest, min_sqdist(geometry.X, np.arange(n_items), centers))
    with one_blas_thread():
        picks = _greedy_cover(geometry, k, ok, nearest, w, gen)
    return np.asarray(picks, dtype=np.intp)


def _greedy_cover(
    geometry: RowGeometry,
    k: int,
    ok: NDArray[np.bool_],
    nearest: NDArray[np.float64],
    w: NDArray[np.float64],
    gen: np.random.Generator,
) -> list[int]:
    picks: list[int] = []
    for _ in range(k):
        if np.isinf(nearest[ok]).all():
            # No center yet: start from the heaviest item (ties at random).
            pick = int(top_n(np.where(ok, w, -np.inf), 1, rng=gen)[0])
        else:
            value = np.where(ok, nearest * w, -np.inf)
            pick = int(top_n(value, 1, rng=gen)[0])
        picks.append(pick)
        ok[pick] = False
        nearest = np.minimum(nearest, geometry.sqdist(pick))
    return picks


def kmeans_pp(
    geometry: RowGeometry, n: int, exclude: Any = None, rng: int | np.random.Generator | None = None
) -> IntArray:
    """k-means++ seeding: each next item drawn with probability ∝ squared distance to the picks so far.

    The first pick is the item of largest norm (BADGE's choice: the most
    uncertain, strongest gradient). Far items are likely but not certain,
    which mixes diversity with some robustness to outliers.

    Parameters
    ----------
    geometry : RowGeometry
    n : int
    exclude : array-like of int or None
    rng : seed or Generator

    Returns
    -------
    ndarray of int, shape (min(n, n_selectable),)

    References
    ----------
    D. Arthur and S. Vassilvitskii, "k-means++: The Advantages of Careful
    Seeding", SODA 2007.
    """
    gen = as_generator(rng)
    ok = allowed_mask(len(geometry), exclude)
    k = min(n, int(ok.sum()))
    if k == 0:
        return np.empty(0, dtype=np.intp)
    with one_blas_thread():
        picks = _kmeans_pp_draws(geometry, k, ok, gen)
    return np.asarray(picks, dtype=np.intp)


def _kmeans_pp_draws(
    geometry: RowGeometry, k: int, ok: NDArray[np.bool_], gen: np.random.Generator
) -> list[int]:
    first = int(top_n(np.where(ok, geometry.sqnorms, -np.inf), 1, rng=gen)[0])
    picks = [first]
    ok[first] = False
    nearest = geometry.sqdist(first)
    while len(picks) < k:
        weight = np.where(ok, nearest, 0.0)
        total = weight.sum()
        if total <= 0:  # every remaining item coincides with a pick: take any
            pick = int(gen.choice(np.flatnonzero(ok)))
        else:
            pick = int(gen.choice(len(weight), p=weight / total))
        picks.append(pick)
        ok[pick] = False
        nearest = np.minimum(nearest, geometry.sqdist(pick))
    return picks


#: Wide rows (TF-IDF) are clustered in exact coordinates of their span when at most this many.
GRAM_MAX_ROWS = 4_096


def _span_coordinates(F: Features) -> NDArray[np.float64]:
    """Exact coordinates of the rows of ``F`` (m rows) in their span: same inner products, <= m columns.

    With ``G = F F^T = V diag(w) V^T``, the rows of ``Z = V sqrt(w)`` have the
    inner products (hence the distances) of the rows of ``F``, so k-means on
    ``Z`` makes the same clusters as k-means on ``F`` (say 179,225 sparse
    TF-IDF columns, whose centres would be dense rows that wide) at a
    fraction of the cost.
    """
    product: Any = F @ F.T
    G = np.asarray(product.toarray() if sp.issparse(product) else product, dtype=np.float64)
    w, V = np.linalg.eigh(G)
    keep = w > max(float(w.max()), 1.0) * 1e-10
    return np.asarray(V[:, keep] * np.sqrt(w[keep]))


def _kmeans(
    X: Features,
    rows: NDArray[np.intp],
    k: int,
    gen: np.random.Generator,
    weights: NDArray[np.float64] | None,
    max_fit: int,
) -> tuple[NDArray[np.intp], NDArray[np.float64]]:
    """Cosine k-means of ``X[rows]``: each row's cluster and its distance to that cluster's centre.

    The centres are fit on at most ``max_fit`` rows (a random sample); rows
    are normalized and assigned block by block, so memory stays bounded.
    When every row is fit, and the rows are fewer than the columns (and at
    most :data:`GRAM_MAX_ROWS`), k-means runs on exact coordinates of their
    span (:func:`_span_coordinates`): the same clusters, without dense
    centres as wide as the vocabulary.
    """
    fit = np.arange(len(rows))
    if len(fit) > max_fit:
        fit = np.sort(gen.choice(len(fit), max_fit, replace=False))
    km = KMeans(n_clusters=k, n_init=1, random_state=int(gen.integers(2**31 - 1)))
    assigned = np.empty(len(rows), dtype=np.intp)
    distance = np.empty(len(rows))
    sample_weight = None if weights is None else weights[fit]
    with one_blas_thread():
        F = normalized_rows(X[rows[fit]])
        if len(fit) == len(rows) and len(fit) <= GRAM_MAX_ROWS and len(fit) < F.shape[1]:
            Z = _span_coordinates(F)
            block = np.asarray(km.fit(Z, sample_weight=sample_weight).transform(Z))
            assigned[:] = block.argmin(axis=1)
            distance[:] = block[np.arange(len(block)), assigned]
            return assigned, distance
        km.fit(F, sample_weight=sample_weight)
        for start in range(0, len(rows), CHUNK_ROWS):
            block = np.asarray(km.transform(normalized_rows(X[rows[start : start + CHUNK_ROWS]])))
            nearest = block.argmin(axis=1)
            assigned[start : start + CHUNK_ROWS] = nearest
            distance[start : start + CHUNK_ROWS] = block[np.arange(len(block)), nearest]
    return assigned, distance


def _best_per_cluster(assigned: NDArray[np.intp], value: NDArray[np.float64], k: int) -> IntArray:
    """Row with the highest value in each cluster, largest clusters first, topped up to k rows."""
    sizes = np.bincount(assigned, minlength=k)
    order = np.lexsort((-value, assigned))  # by cluster, best first; ties by row, as argmax breaks them
    grouped = assigned[order]
    best = order[np.r_[True, grouped[1:] != grouped[:-1]]]  # the first row of each cluster
    chosen = np.asarray(best[np.argsort(-sizes[assigned[best]], kind="stable")], dtype=np.intp)
    if len(chosen) < k:  # k-means left clusters empty: top up with the best remaining rows
        rest = np.setdiff1d(np.arange(len(value)), chosen)
        chosen = np.concatenate([chosen, rest[np.argsort(-value[rest], kind="stable")][: k - len(chosen)]])
    return chosen


def cluster_representatives(
    X: Features,
    n: int,
    exclude: Any = None,
    rng: int | np.random.Generator | None = None,
    max_fit: int = 20_000,
) -> IntArray:
    """One item per k-means cluster: the one nearest its cluster centre.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_items, n_features)
        Compared by cosine (rows are L2-normalized first).
    n : int
        Number of clusters and of items returned.
    exclude : array-like of int or None
        Never returned, and left out of the clustering.
    rng : seed or Generator
    max_fit : int
        The centres are fit on at most this many items (a random sample),
        which bounds the cost on large pools.

    Returns
    -------
    ndarray of int, shape (min(n, n_selectable),)
        Largest clusters first.

    References
    ----------
    H. T. Nguyen and A. Smeulders, "Active Learning Using Pre-clustering",
    ICML 2004.
    """
    gen = as_generator(rng)
    candidates = np.flatnonzero(allowed_mask(X.shape[0], exclude))
    k = min(n, len(candidates))
    if k == 0:
        return np.empty(0, dtype=np.intp)
    if k == len(candidates):
        return np.asarray(gen.permutation(candidates), dtype=np.intp)
    assigned, distance = _kmeans(X, candidates, k, gen, None, max_fit)
    return np.asarray(candidates[_best_per_cluster(assigned, -distance, k)], dtype=np.intp)


def diverse_top_n(
    scores: Any,
    X: Features,
    n: int,
    exclude: Any = None,
    rng: int | np.random.Generator | None = None,
    candidates: int = 5,
) -> IntArray:
    """The ``n`` best items after removing near-duplicates: cluster the top candidates, best per cluster.

    Parameters
    ----------
    scores : array-like of shape (n_items,)
    X : ndarray or sparse matrix of shape (n_items, n_features)
    n : int
    exclude : array-like of int or None
    rng : seed or Generator
    candidates : int
        The ``candidates * n`` top-scored items are clustered (cosine
        k-means, weighted by score) into ``n`` groups and the best of each
        group is taken; 1 means plain :func:`top_n`.

    Returns
    -------
    ndarray of int, shape (min(n, n_selectable),)
        Best first.

    References
    ----------
    Z. Xu, R. Akella and Y. Zhang, "Incorporating Diversity and Density in
    Active Learning for Relevance Feedback", ECIR 2007.
    """
    if candidates < 1:
        raise ValueError(f"candidates must be at least 1, got {candidates}")
    gen = as_generator(rng)
    s = np.asarray(scores, dtype=np.float64)
    pool = top_n(s, n * candidates, exclude, gen)
    if len(pool) <= n or candidates == 1:
        return pool[:n]
    value = s[pool]
    weights = value - value.min() + 1e-6
    assigned, _ = _kmeans(X, pool, n, gen, weights, len(pool))
    chosen = pool[_best_per_cluster(assigned, value, n)]
    return np.asarray(chosen[np.argsort(-s[chosen], kind="stable")], dtype=np.intp)


def uncovered_representatives(
    X: Features,
    labeled: Any,
    n: int,
    weight: Any,
    exclude: Any = None,
    rng: int | np.random.Generator | None = None,
    max_fit: int = 20_000,
) -> IntArray:
    """Representatives of the pool's clusters that hold no labeled item yet.

    The selectable and labeled items are clustered (cosine k-means) into
    ``len(labeled) + n`` groups, so at least ``n`` groups have no label. Each
    such group offers the item nearest its centre; groups are ranked by
    their size times their mean ``weight`` (for example the model's
    uncertainty), so large regions the model is unsure about come first.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_items, n_features)
    labeled : array-like of int
        Items with a label: they mark their cluster as covered.
    n : int
    weight : array-like of shape (n_items,)
        Non-negative; averaged over each cluster's members.
    exclude : array-like of int or None
        Never returned (labeled items should be in it too).
    rng : seed or Generator
    max_fit : int
        Centres are fit on at most this many items.

    Returns
    -------
    ndarray of int, shape (at most n,)
        Best first; fewer than ``n`` only when fewer items are selectable.

    References
    ----------
    G. Hacohen, A. Dekel and D. Weinshall, "Active Learning on a Budget:
    Opposite Strategies Suit High and Low Budgets", ICML 2022 (TypiClust:
    typical items of uncovered clusters); H. T. Nguyen and A. Smeulders,
    "Active Learning Using Pre-clustering", ICML 2004.
    """
    gen = as_generator(rng)
    w = np.asarray(weight, dtype=np.float64)
    if w.shape != (X.shape[0],) or not np.isfinite(w).all() or (w < 0).any():
        raise ValueError("weight must be finite, non-negative, one per item")
    marked = np.asarray(labeled, dtype=np.intp)
    free = allowed_mask(X.shape[0], exclude)
    candidates = np.flatnonzero(free)
    if n <= 0 or len(candidates) == 0:
        return np.empty(0, dtype=np.intp)
    rows = np.union1d(candidates, marked).astype(np.intp)
    k = min(len(marked) + n, len(rows))
    assigned, distance = _kmeans(X, rows, k, gen, None, max_fit)
    covered = np.zeros(k, dtype=bool)
    covered[assigned[np.isin(rows, marked)]] = True
    open_rows = free[rows] & ~covered[assigned]
    if not open_rows.any():
        return np.empty(0, dtype=np.intp)
    sizes = np.bincount(assigned, minlength=k)
    mean_weight = np.bincount(assigned, weights=w[rows], minlength=k) / np.maximum(sizes, 1)
    idx = np.flatnonzero(open_rows)
    best = idx[_best_per_cluster(assigned[idx], -distance[idx], k)[: len(np.unique(assigned[idx]))]]
    value = sizes[assigned[best]] * mean_weight[assigned[best]]
    order = np.argsort(-value, kind="stable")
    return np.asarray(rows[best[order]][:n], dtype=np.intp)
