from __future__ import annotations

import numpy as np
import pytest

from hitloop.ml.semisupervised import knn_graph, spread_labels


def test_labels_spread_along_the_data_manifold(digits: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    # One label per digit: the graph carries it to most of that digit's cluster.
    _, X, y = digits
    labeled = np.array([np.flatnonzero(y == c)[0] for c in range(10)])
    F = spread_labels(knn_graph(X, 10), labeled, y[labeled], 10, alpha=0.99)
    np.testing.assert_allclose(F.sum(axis=1), 1.0)
    assert (F.argmax(axis=1) == y).mean() > 0.8


def test_graph_is_symmetric_normalized_and_computed_once_per_array() -> None:
    X = np.random.default_rng(0).random((50, 4))
    graph = knn_graph(X, 5)
    assert graph.shape == (50, 50)
    assert abs(graph - graph.T).max() < 1e-12
    assert graph.diagonal().max() == 0
    assert knn_graph(X, 5) is graph
    assert knn_graph(X.copy(), 5) is not graph


def test_spreading_rejects_alpha_outside_the_unit_interval() -> None:
    graph = knn_graph(np.eye(3) + 1, 1)
    with pytest.raises(ValueError, match="alpha"):
        spread_labels(graph, np.array([0]), np.array([0]), 2, alpha=1.0)
