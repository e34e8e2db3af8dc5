"""Row geometry for dense and sparse feature matrices, without densifying."""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray

__all__ = ["Features", "RowGeometry", "as_generator", "check_features", "normalized_rows", "row_sqnorms"]

Features: TypeAlias = "NDArray[np.floating[Any]] | sp.sparray | sp.spmatrix"
"""A feature matrix of shape (n_items, n_features): a dense array or a scipy sparse matrix."""


def as_generator(random_state: int | np.random.Generator | None) -> np.random.Generator:
    """A numpy Generator from a seed, a Generator (returned as is) or None (fresh entropy)."""
    if isinstance(random_state, np.random.Generator):
        return random_state
    return np.random.default_rng(random_state)


def check_features(X: Any) -> Features:
    """Return X as a 2-D float array or CSR matrix; reject NaN and infinite values."""
    if sp.issparse(X):
        # The same object comes back when it is already CSR float64: caches key on it (knn_graph).
        out = X if X.format == "csr" and X.dtype == np.float64 else sp.csr_matrix(X, dtype=np.float64)
        data = out.data
    else:
        out = np.asarray(X, dtype=np.float64)
        if out.ndim != 2:
            raise ValueError(f"features must be 2-D (n_items, n_features), got shape {out.shape}")
        data = out
    if not np.isfinite(data).all():
        raise ValueError("features contain NaN or infinite values")
    return out


def row_sqnorms(X: Features) -> NDArray[np.float64]:
    """Squared L2 norm of each row, shape (n_items,)."""
    if sp.issparse(X):
        sparse: Any = X
        return np.asarray(sparse.multiply(sparse).sum(axis=1), dtype=np.float64).ravel()
    dense = np.asarray(X, dtype=np.float64)
    return np.asarray(np.einsum("ij,ij->i", dense, dense), dtype=np.float64)


def normalized_rows(X: Features) -> Features:
    """Rows scaled to unit L2 norm (zero rows stay zero), keeping sparsity."""
    norms = np.sqrt(row_sqnorms(X))
    norms[norms == 0] = 1.0
    if sp.issparse(X):
        return sp.csr_matrix(sp.diags(1.0 / norms) @ X)
    return np.asarray(X, dtype=np.float64) / norms[:, None]


class RowGeometry:
    """Inner products and squared distances between rows of X, one row at a time.

    Memory stays O(n_items): nothing of shape (n_items, n_items) is built, so
    greedy selections run on large sparse pools.
    """

    def __init__(self, X: Features) -> None:
        self.X = X
        self.sqnorms = row_sqnorms(X)

    def __len__(self) -> int:
        return int(self.X.shape[0])

    def inner(self, j: int) -> NDArray[np.float64]:
        """<x_i, x_j> for every i, shape (n_items,)."""
        X: Any = self.X
        row = X[[j]]
        if sp.issparse(X):
            return np.asarray((X @ row.T).toarray(), dtype=np.float64).ravel()
        return np.asarray(X @ np.asarray(row).ravel(), dtype=np.float64)

    def sqdist(self, j: int) -> NDArray[np.float64]:
        """||x_i - x_j||^2 for every i, shape (n_items,), clipped at 0 against rounding."""
        d = self.sqnorms + self.sqnorms[j] - 2.0 * self.inner(j)
        return np.asarray(np.maximum(d, 0.0), dtype=np.float64)


class KroneckerGeometry(RowGeometry):
    """Geometry of the rows g_i = a_i ⊗ x_i, never materialized.

    <g_i, g_j> = <a_i, a_j> <x_i, x_j>, which is how BADGE's gradient
    embeddings (a = p - onehot, x = features) are compared.
    """

    def __init__(self, A: NDArray[np.float64], X: Features) -> None:
        self.A = np.asarray(A, dtype=np.float64)
        self.base = RowGeometry(X)
        self.X = X
        self.sqnorms = np.einsum("ij,ij->i", self.A, self.A) * self.base.sqnorms

    def inner(self, j: int) -> NDArray[np.float64]:
        return np.asarray((self.A @ self.A[j]) * self.base.inner(j), dtype=np.float64)
