"""Properties of the pure scoring and selection functions, checked with hypothesis."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from hitloop.ml.calibration import fit_temperature, softmax_with_temperature
from hitloop.ml.linalg import KroneckerGeometry, RowGeometry
from hitloop.ml.strategies.scoring import (
    bald,
    entropy,
    gradient_embedding_factors,
    least_confidence,
    margin,
    vote_entropy,
)
from hitloop.ml.strategies.selection import k_center_greedy, top_n

positive = st.floats(min_value=1e-3, max_value=1e3, allow_nan=False)


@st.composite
def probabilities(draw: st.DrawFn, min_classes: int = 1, max_classes: int = 8) -> np.ndarray:
    n_items = draw(st.integers(1, 20))
    n_classes = draw(st.integers(min_classes, max_classes))
    raw = draw(arrays(np.float64, (n_items, n_classes), elements=positive))
    return raw / raw.sum(axis=1, keepdims=True)


@st.composite
def committees(draw: st.DrawFn) -> np.ndarray:
    n_members = draw(st.integers(1, 5))
    P = draw(probabilities(min_classes=2))
    noise = draw(arrays(np.float64, (n_members, *P.shape), elements=positive))
    M = P[None] * noise
    return M / M.sum(axis=2, keepdims=True)


@given(probabilities())
def test_entropy_is_between_zero_and_the_uniform_maximum(P: np.ndarray) -> None:
    H = entropy(P)
    assert H.shape == (len(P),)
    assert (H >= -1e-12).all()
    assert (np.log(P.shape[1]) + 1e-9 >= H).all()


@given(st.integers(1, 50))
def test_entropy_is_maximal_at_uniform_and_zero_at_certainty(k: int) -> None:
    np.testing.assert_allclose(entropy(np.full((1, k), 1.0 / k)), [np.log(k)])
    certain = np.zeros((1, k))
    certain[0, k - 1] = 1.0
    assert entropy(certain)[0] == 0.0


@given(probabilities())
def test_margin_is_in_unit_interval_and_orders_like_the_top_two(P: np.ndarray) -> None:
    m = margin(P)
    assert ((m >= -1e-12) & (m <= 1 + 1e-12)).all()
    top = np.sort(P, axis=1)
    expected = top[:, -1] - top[:, -2] if P.shape[1] > 1 else np.ones(len(P))
    np.testing.assert_allclose(m, expected, atol=1e-12)


@given(probabilities())
def test_least_confidence_bounds(P: np.ndarray) -> None:
    lc = least_confidence(P)
    assert ((lc >= -1e-12) & (lc <= 1 - 1 / P.shape[1] + 1e-9)).all()


@given(committees())
def test_bald_is_non_negative_and_vote_entropy_bounded(M: np.ndarray) -> None:
    assert (bald(M) >= 0).all()
    ve = vote_entropy(M)
    assert (ve >= -1e-12).all()
    assert (ve <= np.log(min(M.shape[0], M.shape[2])) + 1e-9).all()


@given(probabilities(min_classes=2), st.integers(1, 6))
def test_identical_members_neither_disagree_nor_carry_information(P: np.ndarray, n_members: int) -> None:
    M = np.repeat(P[None], n_members, axis=0)
    np.testing.assert_allclose(bald(M), 0.0, atol=1e-9)
    np.testing.assert_allclose(vote_entropy(M), 0.0, atol=1e-12)


@given(probabilities(min_classes=2))
def test_gradient_factors_sum_to_zero_and_vanish_only_at_certainty(P: np.ndarray) -> None:
    A = gradient_embedding_factors(P)
    np.testing.assert_allclose(A.sum(axis=1), 0.0, atol=1e-9)
    np.testing.assert_allclose(np.abs(A).max(axis=1) > 1e-9, P.max(axis=1) < 1 - 1e-9)


@given(
    arrays(np.float64, st.integers(1, 40), elements=st.floats(-1e6, 1e6)),
    st.integers(0, 50),
    st.integers(0, 2**32 - 1),
)
def test_top_n_takes_the_highest_scores(scores: np.ndarray, n: int, seed: int) -> None:
    exclude = np.arange(0, len(scores), 3)
    picked = top_n(scores, n, exclude, seed)
    allowed = np.setdiff1d(np.arange(len(scores)), exclude)
    assert len(picked) == min(n, len(allowed)) == len(set(picked.tolist()))
    assert not np.isin(picked, exclude).any()
    if len(picked):
        rest = np.setdiff1d(allowed, picked)
        assert len(rest) == 0 or scores[picked].min() >= scores[rest].max()
        assert (np.diff(scores[picked]) <= 0).all()


@settings(deadline=None)
@given(arrays(np.float64, (25, 3), elements=st.floats(-10, 10)), st.integers(1, 10))
def test_k_center_greedy_is_no_worse_than_twice_the_best_cover_it_saw(X: np.ndarray, n: int) -> None:
    picks = k_center_greedy(RowGeometry(X), n, centers=[0], rng=0)
    centers = np.concatenate([[0], picks])
    radius = np.sqrt(((X[:, None] - X[centers][None]) ** 2).sum(axis=2).min(axis=1)).max()
    # Gonzalez's bound: greedy radius <= 2 * optimal; every distance between picks is at least that radius.
    pairwise = np.sqrt(((X[centers][:, None] - X[centers][None]) ** 2).sum(axis=2))
    off_diagonal = pairwise[~np.eye(len(centers), dtype=bool)]
    # Distances come from ||a||^2 + ||b||^2 - 2ab, so identical rows can sit ~1e-7 apart.
    tol = 1e-6 * max(1.0, float(np.abs(X).max()))
    if len(off_diagonal) and radius > tol:
        assert off_diagonal.min() >= radius - tol


@given(
    arrays(np.float64, (6, 3), elements=st.floats(-5, 5)),
    arrays(np.float64, (6, 4), elements=st.floats(-5, 5)),
)
def test_kronecker_geometry_matches_explicit_outer_products(A: np.ndarray, X: np.ndarray) -> None:
    G = np.stack([np.outer(a, x).ravel() for a, x in zip(A, X, strict=True)])
    geometry = KroneckerGeometry(A, X)
    np.testing.assert_allclose(geometry.sqnorms, (G**2).sum(axis=1), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(geometry.sqdist(2), ((G - G[2]) ** 2).sum(axis=1), rtol=1e-7, atol=1e-7)


@settings(deadline=None, max_examples=25)
@given(st.floats(0.3, 5.0), st.integers(0, 2**32 - 1))
def test_temperature_scaling_recovers_the_temperature_that_made_the_labels(t: float, seed: int) -> None:
    rng = np.random.default_rng(seed)
    logits = rng.normal(scale=3.0, size=(4000, 4))
    P = softmax_with_temperature(logits, t)
    y = np.array([rng.choice(4, p=p) for p in P])
    assert abs(fit_temperature(logits, y) - t) < 0.25 * t
