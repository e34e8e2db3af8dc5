"""Label spreading over a k-nearest-neighbour graph of the pool (Zhou et al., 2004)."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from sklearn.neighbors import NearestNeighbors

from hitloop.ml.linalg import Features, normalized_rows
from hitloop.ml.memo import FeatureMemo

__all__ = ["knn_graph", "spread_labels"]

_GRAPHS: FeatureMemo[sp.csr_matrix] = FeatureMemo()


def knn_graph(X: Features, n_neighbors: int = 10) -> sp.csr_matrix:
    """Symmetric, normalized cosine k-nearest-neighbour graph of the rows of X.

    Parameters
    ----------
    X : ndarray or sparse matrix of shape (n_items, n_features)
    n_neighbors : int
        Neighbours per item (excluding itself).

    Returns
    -------
    csr_matrix of shape (n_items, n_items)
        ``D^-1/2 W D^-1/2`` with ``W`` the symmetrized 0/1 kNN adjacency.
        Computed once per feature object and reused while it lives.
    """
    return _GRAPHS.get(X, n_neighbors, lambda: _knn_graph(X, n_neighbors))


def _knn_graph(X: Features, n_neighbors: int) -> sp.csr_matrix:
    n = X.shape[0]
    k = min(n_neighbors, n - 1)
    if k < 1:
        return sp.csr_matrix((n, n))
    unit = normalized_rows(X)
    nn = NearestNeighbors(n_neighbors=k + 1, algorithm="brute", metric="euclidean").fit(unit)
    adjacency = nn.kneighbors_graph(unit, mode="connectivity")
    adjacency.setdiag(0)
    adjacency.eliminate_zeros()
    adjacency = adjacency.maximum(adjacency.T)
    degree = np.asarray(adjacency.sum(axis=1)).ravel()
    degree[degree == 0] = 1.0
    scale = sp.diags(1.0 / np.sqrt(degree))
    return sp.csr_matrix(scale @ adjacency @ scale)


def spread_labels(
    graph: sp.csr_matrix,
    labeled: NDArray[np.intp],
    y: NDArray[np.intp],
    n_classes: int,
    *,
    alpha: float = 0.2,
    tol: float = 1e-4,
    max_iter: int = 1000,
) -> NDArray[np.float64]:
    """Class distributions for every node, spread from the labeled nodes.

    Iterates ``F <- alpha * S F + (1 - alpha) * Y`` until no entry moves by
    more than ``tol`` (relative to the largest); the fixed point is
    ``(1 - alpha) (I - alpha S)^-1 Y``.

    Parameters
    ----------
    graph : csr_matrix of shape (n_items, n_items)
        Normalized affinity ``S`` from :func:`knn_graph`.
    labeled : ndarray of int, shape (n_labeled,)
        Node indices with known labels.
    y : ndarray of int, shape (n_labeled,)
        Class index (0..n_classes-1) of each labeled node.
    n_classes : int
    alpha : float in (0, 1)
        How far labels travel: near 0 each label stays near its node, near
        1 labels follow the graph's clusters across many hops.
    tol : float
    max_iter : int

    Returns
    -------
    ndarray of shape (n_items, n_classes)
        Rows sum to 1; nodes no label reached get all zeros.

    References
    ----------
    D. Zhou, O. Bousquet, T. N. Lal, J. Weston and B. Schölkopf, "Learning
    with Local and Global Consistency", NIPS 2004.
    """
    if not 0.0 < alpha < 1.0:
        raise ValueError(f"alpha must be in (0, 1), got {alpha}")
    n = graph.shape[0]
    seed = np.zeros((n, n_classes))
    seed[np.asarray(labeled, dtype=np.intp), np.asarray(y, dtype=np.intp)] = 1.0
    seed *= 1.0 - alpha
    F = seed.copy()
    for _ in range(max_iter):
        updated = alpha * (graph @ F) + seed
        change = np.abs(updated - F).max()
        F = updated
        if change <= tol * max(F.max(), 1e-300):
            break
    total = F.sum(axis=1, keepdims=True)
    return np.asarray(np.divide(F, total, out=np.zeros_like(F), where=total > 0))
