"""What keeps selection fast and memory-bounded on large pools gives the same answers as the direct math."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from hitloop.ml import linalg
from hitloop.ml.linalg import min_sqdist, row_sqnorms
from hitloop.ml.strategies import Badge, KCenterGreedy, Pool
from hitloop.ml.strategies.scoring import cluster_density, gradient_embedding_factors
from hitloop.ml.strategies.selection import _best_per_cluster, cluster_representatives

from .conftest import Case


def _brute_min_sqdist(X: np.ndarray, rows: np.ndarray, centers: np.ndarray) -> np.ndarray:
    if len(centers) == 0:
        return np.full(len(rows), np.inf)
    d = ((X[rows][:, None, :] - X[centers][None, :, :]) ** 2).sum(axis=2)
    return np.asarray(d.min(axis=1))


@settings(deadline=None, max_examples=40)
@given(
    arrays(np.float64, (30, 4), elements=st.floats(-5, 5)),
    st.lists(st.integers(0, 29), max_size=12, unique=True),
    st.integers(1, 9),
)
def test_blocked_nearest_distances_match_brute_force(X: np.ndarray, centers: list[int], chunk: int) -> None:
    rows = np.arange(30)
    expected = _brute_min_sqdist(X, rows, np.array(centers, dtype=np.intp))
    original = linalg.CHUNK_ROWS
    linalg.CHUNK_ROWS = chunk  # tiny blocks: every row and center crosses block edges
    try:
        dense = min_sqdist(X, rows, centers)
        sparse = min_sqdist(sp.csr_matrix(X), rows, centers)
    finally:
        linalg.CHUNK_ROWS = original
    np.testing.assert_allclose(dense, expected, atol=1e-9)
    np.testing.assert_allclose(sparse, expected, atol=1e-9)


def test_float32_features_stay_float32_and_agree(ten_classes: Case) -> None:
    X32 = ten_classes.X.astype(np.float32)
    np.testing.assert_allclose(row_sqnorms(X32), row_sqnorms(ten_classes.X), rtol=1e-5)
    assert linalg.normalized_rows(X32).dtype == np.float32
    rows, centers = np.arange(50), ten_classes.labeled
    np.testing.assert_allclose(
        min_sqdist(X32, rows, centers), _brute_min_sqdist(ten_classes.X, rows, centers), atol=1e-4
    )


def test_chunked_density_equals_one_block(ten_classes: Case, monkeypatch: pytest.MonkeyPatch) -> None:
    whole = cluster_density(ten_classes.X, n_clusters=5, rng=0)
    monkeypatch.setattr(linalg, "CHUNK_ROWS", 7)
    monkeypatch.setattr("hitloop.ml.strategies.scoring.CHUNK_ROWS", 7)
    np.testing.assert_allclose(cluster_density(ten_classes.X, n_clusters=5, rng=0), whole)


def test_chunked_cluster_assignment_equals_one_block(
    ten_classes: Case, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = cluster_representatives(ten_classes.X, 8, ten_classes.labeled, rng=3)
    monkeypatch.setattr("hitloop.ml.strategies.selection.CHUNK_ROWS", 11)
    np.testing.assert_array_equal(
        cluster_representatives(ten_classes.X, 8, ten_classes.labeled, rng=3), whole
    )


def test_best_per_cluster_takes_each_clusters_best_largest_clusters_first() -> None:
    assigned = np.array([2, 0, 2, 2, 0, 1, 0, 0])
    value = np.array([0.5, 0.1, 0.9, 0.9, 0.7, 0.2, 0.7, 0.3])
    # Cluster 0 (4 rows): 0.7 at rows 4 and 6, the first wins; cluster 2 (3 rows): row 2; cluster 1: row 5.
    assert _best_per_cluster(assigned, value, 3).tolist() == [4, 2, 5]
    # k-means left cluster 3 empty: topped up with the best remaining row.
    assert _best_per_cluster(assigned, value, 4).tolist() == [4, 2, 5, 3]


def test_k_center_on_a_candidate_sample_still_covers_far_from_the_labels(ten_classes: Case) -> None:
    pool = Pool(ten_classes.X, labeled=ten_classes.labeled, learner=ten_classes.learner)
    sampled = KCenterGreedy(max_candidates=60).select(pool, 10, random_state=0)
    assert len(set(sampled.tolist())) == 10 and not np.isin(sampled, ten_classes.labeled).any()
    nearest = min_sqdist(ten_classes.X, np.arange(pool.n_items), ten_classes.labeled)
    # The first pick is the sample's farthest item from the labels: farther than a typical item.
    assert nearest[sampled[0]] > np.median(nearest[nearest > 0])
    full = KCenterGreedy(max_candidates=None).select(pool, 10, random_state=0)
    assert nearest[full[0]] == nearest[np.setdiff1d(np.arange(pool.n_items), pool.labeled)].max()
    with pytest.raises(ValueError, match="max_candidates must be at least 1"):
        KCenterGreedy(max_candidates=0).select(pool, 3)


def test_badge_on_a_large_pool_draws_from_the_largest_gradient_embeddings(ten_classes: Case) -> None:
    pool = Pool(ten_classes.X, labeled=ten_classes.labeled, learner=ten_classes.learner)
    A = gradient_embedding_factors(pool.probabilities)
    norms = np.einsum("ij,ij->i", A, A) * row_sqnorms(ten_classes.X)
    norms[ten_classes.labeled] = -np.inf
    top = set(np.argsort(-norms)[:40].tolist())
    batch = Badge(max_candidates=40).select(pool, 10, random_state=0)
    assert set(batch.tolist()) <= top and len(set(batch.tolist())) == 10
    np.testing.assert_array_equal(batch, Badge(max_candidates=40).select(pool, 10, random_state=0))
