"""Small data sets and fitted models shared by the ml tests (no files outside the package)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.datasets import load_digits, make_blobs
from threadpoolctl import threadpool_limits

from hitloop.ml.learners import LogisticLearner


@pytest.fixture(scope="session", autouse=True)
def _one_blas_thread() -> Iterator[None]:
    # Tiny problems run far faster on one thread, and a shared 2-core machine stays usable.
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="session")
def digits() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """scikit-learn's 8x8 digits: images (n, 8, 8), pixel features in [0, 1] (n, 64), labels 0..9."""
    data = load_digits()
    return data.images, data.data / 16.0, data.target


@dataclass(frozen=True)
class Case:
    """A pool with a few labels and a model trained on them."""

    X: Any
    y: np.ndarray
    labeled: np.ndarray
    learner: LogisticLearner

    @property
    def n_classes(self) -> int:
        return int(self.y.max()) + 1


def _case(X: Any, y: np.ndarray, per_class: int, seed: int) -> Case:
    rng = np.random.default_rng(seed)
    labeled = np.concatenate(
        [rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in np.unique(y)]
    )
    learner = LogisticLearner(classes=list(range(int(y.max()) + 1)), calibrate=False).fit(
        X[labeled], y[labeled]
    )
    return Case(X=X, y=y, labeled=labeled, learner=learner)


@pytest.fixture(scope="session")
def ten_classes(digits: tuple[np.ndarray, np.ndarray, np.ndarray]) -> Case:
    _, X, y = digits
    return _case(X[:300], y[:300], per_class=2, seed=0)


@pytest.fixture(scope="session")
def two_classes() -> Case:
    X, y = make_blobs(n_samples=120, centers=2, n_features=5, cluster_std=3.0, random_state=0)
    return _case(X, y, per_class=3, seed=0)


@pytest.fixture(scope="session")
def sparse_case(ten_classes: Case) -> Case:
    """The ten-class case with its features as a CSR matrix, as TF-IDF gives them."""
    return Case(
        X=sp.csr_matrix(ten_classes.X),
        y=ten_classes.y,
        labeled=ten_classes.labeled,
        learner=ten_classes.learner,
    )
