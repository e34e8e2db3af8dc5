"""Row geometry for dense and sparse feature matrices, without densifying."""

from __future__ import annotations

from typing import Any, TypeAlias

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from threadpoolctl import threadpool_limits

__all__ = [
    "CHUNK_ROWS",
    "Features",
    "KroneckerGeometry",
    "RowGeometry",
    "as_generator",
    "check_features",
    "min_sqdist",
    "normalized_rows",
    "one_blas_thread",
    "row_sqnorms",
]

Features: TypeAlias = "NDArray[np.floating[Any]] | sp.sparray | sp.spmatrix"
"""A feature matrix of shape (n_items, n_features): a dense array or a scipy sparse matrix."""


def one_blas_thread() -> threadpool_limits:
    """A context in which BLAS runs on one thread, for loops of small matrix products.

    Greedy picks and k-means on a few thousand rows issue hundreds of small
    products; a second BLAS thread only adds synchronization, and on a shared
    machine waiting for it to be scheduled costs 2-5x in wall time (measured
    in benchmarks/select.py). scikit-learn's KMeans limits its own Lloyd
    iterations the same way. The limit is process-wide while it lasts, which
    can only slow, never change, a concurrent computation.
    """
    return threadpool_limits(limits=1, user_api="blas")


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


CHUNK_ROWS = 16_384
"""Rows per block in chunked computations: bounds temporary memory at large pools."""


def _dense_dtype(X: Any) -> type[np.floating[Any]]:
    """float32 stays float32 (cached embeddings, half the memory); everything else is float64."""
    return np.float32 if getattr(X, "dtype", None) == np.float32 else np.float64


def row_sqnorms(X: Features) -> NDArray[np.float64]:
    """Squared L2 norm of each row, shape (n_items,); float32 rows are summed in float32."""
    if sp.issparse(X):
        sparse: Any = X
        return np.asarray(sparse.multiply(sparse).sum(axis=1), dtype=np.float64).ravel()
    dense = np.asarray(X)
    if dense.dtype in (np.float32, np.float64):  # in place: no converted copy of a large pool
        return np.asarray(np.einsum("ij,ij->i", dense, dense), dtype=np.float64)
    out = np.empty(dense.shape[0], dtype=np.float64)
    for start in range(0, dense.shape[0], CHUNK_ROWS):
        block = np.asarray(dense[start : start + CHUNK_ROWS], dtype=np.float64)
        out[start : start + CHUNK_ROWS] = np.einsum("ij,ij->i", block, block)
    return out


def normalized_rows(X: Features) -> Features:
    """Rows scaled to unit L2 norm (zero rows stay zero), keeping sparsity (and float32)."""
    norms = np.sqrt(row_sqnorms(X))
    norms[norms == 0] = 1.0
    if sp.issparse(X):
        return sp.csr_matrix(sp.diags(1.0 / norms) @ X)
    dtype = _dense_dtype(X)
    return np.asarray(X, dtype=dtype) / norms[:, None].astype(dtype)


def _rows_of(X: Any, idx: NDArray[np.intp]) -> Any:
    return X[idx] if sp.issparse(X) else np.asarray(X[idx], dtype=_dense_dtype(X))


def min_sqdist(X: Features, rows: Any, centers: Any) -> NDArray[np.float64]:
    """Squared distance from each of ``X[rows]`` to its nearest row of ``X[centers]``, shape (len(rows),).

    Matrix products over blocks of rows and centers (BLAS level 3, many times
    faster than one center at a time), so temporary memory stays at
    ``CHUNK_ROWS`` squared whatever the pool size. +inf when there are no
    centers; clipped at 0 against rounding.
    """
    rows = np.asarray(rows, dtype=np.intp)
    centers = np.asarray(centers, dtype=np.intp)
    out = np.full(len(rows), np.inf)
    if len(rows) == 0 or len(centers) == 0:
        return out
    sparse = sp.issparse(X)
    dtype = np.float64 if sparse else _dense_dtype(X)
    for c0 in range(0, len(centers), CHUNK_ROWS):
        C = _rows_of(X, centers[c0 : c0 + CHUNK_ROWS])
        c_norms = row_sqnorms(C).astype(dtype)
        for r0 in range(0, len(rows), CHUNK_ROWS):
            R = _rows_of(X, rows[r0 : r0 + CHUNK_ROWS])
            # |r|^2 + |c|^2 - 2 r.c, in place on the product block (in float32 for float32 features).
            d = np.asarray((R @ C.T).toarray() if sparse else R @ C.T, dtype=dtype)
            d *= -2.0
            d += row_sqnorms(R).astype(dtype)[:, None]
            d += c_norms[None, :]
            block = out[r0 : r0 + CHUNK_ROWS]
            np.minimum(block, d.min(axis=1), out=block)
    return np.asarray(np.maximum(out, 0.0))


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
