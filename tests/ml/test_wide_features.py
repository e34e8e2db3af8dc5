"""Shortcuts for wide sparse features (TF-IDF) give the same answers as the plain computation."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from hitloop.ml.learners import LogisticLearner
from hitloop.ml.strategies import selection


def _wide(n: int = 400, d: int = 20_000, seed: int = 0) -> tuple[sp.csr_matrix, np.ndarray]:
    """Rows of a few dozen nonzeros out of d columns, two classes that prefer different columns."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    rows, cols = [], []
    for i in range(n):
        own = rng.integers(0, d // 2, 20) + (d // 2) * y[i]
        rows += [i] * 40
        cols += list(own) + list(rng.integers(0, d, 20))
    X = sp.csr_matrix((rng.random(len(rows)) + 0.1, (rows, cols)), shape=(n, d))
    X.sum_duplicates()
    return X, np.where(y == 1, "pos", "neg")


def test_diverse_batch_on_span_coordinates_equals_clustering_the_wide_rows(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # 12 groups of near-duplicates (shared words, a few of their own) in 20,000 columns.
    rng = np.random.default_rng(3)
    groups = [rng.choice(20_000, 30, replace=False) for _ in range(12)]
    rows = [np.r_[groups[i % 12], rng.choice(20_000, 3)] for i in range(240)]
    X = sp.csr_matrix(
        (np.ones(33 * 240), (np.repeat(np.arange(240), 33), np.concatenate(rows))), shape=(240, 20_000)
    )
    scores = rng.random(240)
    fast = selection.diverse_top_n(scores, X, 12, exclude=[3, 5], rng=7, candidates=5)
    monkeypatch.setattr(selection, "GRAM_MAX_ROWS", 0)  # the plain path: k-means on 20,000 columns
    plain = selection.diverse_top_n(scores, X, 12, exclude=[3, 5], rng=7, candidates=5)
    np.testing.assert_array_equal(fast, plain)
    # One item of every group: no near-duplicates in the batch.
    assert sorted(int(i) % 12 for i in fast) == list(range(12)) and not {3, 5} & set(fast.tolist())


def test_span_coordinates_keep_every_inner_product() -> None:
    X, _ = _wide(n=50)
    F = selection.normalized_rows(X)
    Z = selection._span_coordinates(F)
    assert Z.shape[0] == 50 and Z.shape[1] <= 50
    np.testing.assert_allclose(Z @ Z.T, (F @ F.T).toarray(), atol=1e-9)


def test_logistic_fit_on_used_columns_equals_the_full_fit() -> None:
    X, y = _wide(n=60)
    assert len(np.unique(X.indices)) * 2 < X.shape[1]  # the shortcut applies
    sparse = LogisticLearner(classes=["neg", "pos"]).fit(X, y)
    dense = LogisticLearner(classes=["neg", "pos"]).fit(X.toarray(), y)  # never shortcut
    assert sparse.model_.coef_.shape == (1, X.shape[1])
    probe, _ = _wide(n=30, seed=5)
    np.testing.assert_allclose(sparse.predict_proba(probe), dense.predict_proba(probe.toarray()), atol=1e-6)
    assert sparse.temperature_ == pytest.approx(dense.temperature_, rel=1e-4)
    # Columns no labeled row uses keep a zero weight.
    unused = np.setdiff1d(np.arange(X.shape[1]), X.indices)
    assert not sparse.model_.coef_[:, unused].any()
