"""Confident learning: thresholds, the confident joint, rankings and out-of-fold probabilities."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from hitloop.ml.label_errors import (
    class_thresholds,
    confident_joint,
    estimate_n_errors,
    find_label_errors,
    label_quality,
    out_of_fold_proba,
)

LABELS = np.array([0, 0, 0, 1, 1, 1])
PROBS = np.array(
    [
        [0.9, 0.1],
        [0.8, 0.2],
        [0.1, 0.9],  # labelled 0, confidently 1: an error
        [0.2, 0.8],
        [0.3, 0.7],
        [0.6, 0.4],  # labelled 1, confidently 0
    ]
)


def test_thresholds_are_mean_self_confidence_per_class() -> None:
    np.testing.assert_allclose(class_thresholds(LABELS, PROBS), [0.6, (0.8 + 0.7 + 0.4) / 3])
    # a class nobody is labelled with cannot be confidently in anything
    assert class_thresholds([0, 0], [[0.5, 0.5], [0.9, 0.1]])[1] == np.inf


def test_confident_joint_counts_given_against_confident_class() -> None:
    # thresholds 0.6 and 0.633: example 4 (p1 = 0.7) counts as 1; example 5 (p0 = 0.6) as 0
    raw = confident_joint(LABELS, PROBS, calibrate=False)
    np.testing.assert_array_equal(raw, [[2, 1], [1, 2]])
    calibrated = confident_joint(LABELS, PROBS)
    assert calibrated.sum() == pytest.approx(6)
    assert estimate_n_errors(LABELS, PROBS) == 2


def test_find_label_errors_ranks_the_flips_first() -> None:
    np.testing.assert_array_equal(find_label_errors(LABELS, PROBS), [2, 5])
    np.testing.assert_array_equal(find_label_errors(LABELS, PROBS, rank_by="normalized_margin"), [2, 5])
    full = find_label_errors(LABELS, PROBS, n_errors=6)
    np.testing.assert_array_equal(np.sort(full), np.arange(6))
    assert find_label_errors(LABELS, PROBS, n_errors=0).size == 0


def test_normalized_margin_is_in_unit_interval() -> None:
    scores = label_quality(LABELS, PROBS, "normalized_margin")
    np.testing.assert_allclose(scores, [0.9, 0.8, 0.1, 0.8, 0.7, 0.4])


def test_bad_input_is_refused() -> None:
    with pytest.raises(ValueError, match="class codes"):
        find_label_errors([0, 2], [[0.5, 0.5], [0.5, 0.5]])
    with pytest.raises(ValueError, match="matching"):
        find_label_errors([0], PROBS)
    with pytest.raises(ValueError, match="rank_by"):
        label_quality(LABELS, PROBS, "entropy")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="non-negative"):
        find_label_errors(LABELS, PROBS, n_errors=-1)


def noisy_problem(seed: int) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    X, y = make_classification(
        n_samples=400,
        n_features=10,
        n_informative=6,
        n_classes=3,
        n_clusters_per_class=1,
        class_sep=3.0,
        random_state=seed,
    )
    rng = np.random.default_rng(seed)
    flipped = rng.choice(400, 40, replace=False)
    noisy = y.copy()
    noisy[flipped] = (y[flipped] + rng.integers(1, 3, 40)) % 3
    return X, noisy, flipped


def test_out_of_fold_confident_learning_finds_injected_flips() -> None:
    X, noisy, flipped = noisy_problem(0)
    probs = out_of_fold_proba(LogisticRegression(max_iter=500), X, noisy, random_state=0)
    assert probs.shape == (400, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    found = find_label_errors(noisy, probs)
    precision = np.isin(found, flipped).mean()
    recall = np.isin(flipped, found).mean()
    assert precision > 0.8 and recall > 0.8
    assert 30 <= estimate_n_errors(noisy, probs) <= 50


def test_out_of_fold_proba_keeps_columns_for_classes_without_examples() -> None:
    X, noisy, _ = noisy_problem(1)
    shifted = np.where(noisy == 2, 3, noisy)  # code 2 unused
    probs = out_of_fold_proba(LogisticRegression(max_iter=500), X, shifted)
    assert probs.shape == (400, 4)
    np.testing.assert_array_equal(probs[:, 2], 0.0)
    with pytest.raises(ValueError, match="at least two examples"):
        out_of_fold_proba(LogisticRegression(), X[:3], np.array([0, 0, 1]))


@settings(max_examples=50, deadline=None)
@given(
    probs=arrays(np.float64, st.tuples(st.integers(1, 30), st.integers(2, 4)), elements=st.floats(0.01, 1.0)),
    data=st.data(),
)
def test_rankings_are_deterministic_permutations(probs: npt.NDArray[np.float64], data: st.DataObject) -> None:
    probs = probs / probs.sum(axis=1, keepdims=True)
    n = len(probs)
    labels = np.array(data.draw(st.lists(st.integers(0, probs.shape[1] - 1), min_size=n, max_size=n)))
    for rank_by in ("self_confidence", "normalized_margin"):
        order = find_label_errors(labels, probs, rank_by=rank_by, n_errors=len(labels))
        np.testing.assert_array_equal(np.sort(order), np.arange(len(labels)))
        scores = label_quality(labels, probs, rank_by)
        assert np.all(np.diff(scores[order]) >= 0)
        assert np.all((scores >= 0) & (scores <= 1))
    n_errors = estimate_n_errors(labels, probs)
    assert 0 <= n_errors <= n
    assert len(find_label_errors(labels, probs)) == n_errors
