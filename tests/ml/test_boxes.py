"""Box geometry and quality measures: worked cases and properties."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hitloop.ml.boxes import (
    box_agreement,
    compare_edits,
    iou_matrix,
    match_boxes,
    precision_recall,
)

coord = st.floats(min_value=0, max_value=500, allow_nan=False, allow_infinity=False)
size = st.floats(min_value=0.5, max_value=300, allow_nan=False, allow_infinity=False)
box = st.tuples(coord, coord, size, size)
box_lists = st.lists(box, max_size=8)


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ((0, 0, 10, 10), (0, 0, 10, 10), 1.0),
        ((0, 0, 10, 10), (5, 0, 10, 10), 50 / 150),
        ((0, 0, 10, 10), (10, 0, 10, 10), 0.0),  # touching edges share no area
        ((0, 0, 10, 10), (2, 2, 5, 5), 25 / 100),  # inside
        ((0, 0, 0, 0), (0, 0, 0, 0), 0.0),  # no area: no overlap to speak of
    ],
    ids=["same", "half-shift", "touching", "contained", "empty"],
)
def test_iou_worked_cases(a: tuple[float, ...], b: tuple[float, ...], expected: float) -> None:
    assert iou_matrix([a], [b])[0, 0] == pytest.approx(expected)


def test_iou_matrix_shape_and_empty_inputs() -> None:
    assert iou_matrix([(0, 0, 1, 1)] * 3, [(0, 0, 1, 1)] * 2).shape == (3, 2)
    assert iou_matrix([], [(0, 0, 1, 1)]).shape == (0, 1)
    with pytest.raises(ValueError, match="shape"):
        iou_matrix([(0, 0, 1)], [])
    with pytest.raises(ValueError, match="non-negative"):
        iou_matrix([(0, 0, -1, 1)], [])


@given(box_lists, box_lists)
def test_iou_is_symmetric_and_bounded(a: list[tuple[float, ...]], b: list[tuple[float, ...]]) -> None:
    m = iou_matrix(a, b)
    assert np.all((m >= 0) & (m <= 1))
    np.testing.assert_allclose(m, iou_matrix(b, a).T)


@given(box)
def test_a_box_overlaps_itself_fully(b: tuple[float, ...]) -> None:
    assert iou_matrix([b], [b])[0, 0] == pytest.approx(1.0)


@given(box_lists, box_lists, st.floats(min_value=0.05, max_value=1.0))
def test_matching_is_one_to_one_above_threshold(
    a: list[tuple[float, ...]], b: list[tuple[float, ...]], threshold: float
) -> None:
    pairs = match_boxes(a, b, threshold=threshold)
    assert len({i for i, _, _ in pairs}) == len(pairs) == len({j for _, j, _ in pairs})
    assert all(iou >= threshold for _, _, iou in pairs)
    assert len(pairs) <= min(len(a), len(b))


def test_matching_is_greedy_by_iou_and_respects_labels() -> None:
    a = [(0, 0, 10, 10), (1, 0, 10, 10)]
    b = [(1, 0, 10, 10)]
    # b[0] is identical to a[1]: the better pair wins.
    assert match_boxes(a, b) == [(1, 0, 1.0)]
    assert match_boxes(a, b, labels_a=["cat", "dog"], labels_b=["cat"]) == [(0, 0, pytest.approx(90 / 110))]
    assert match_boxes(a, b, labels_a=["dog", "dog"], labels_b=["cat"]) == []


def test_precision_recall_counts_over_images() -> None:
    truth = [[(0, 0, 10, 10), (50, 50, 10, 10)], [(0, 0, 20, 20)], []]
    pred = [[(1, 1, 10, 10)], [(0, 0, 20, 20), (100, 100, 5, 5)], [(3, 3, 3, 3)]]
    counts = precision_recall(pred, truth, threshold=0.5)
    assert (counts.true_positives, counts.false_positives, counts.false_negatives) == (2, 2, 1)
    assert counts.precision == pytest.approx(0.5)
    assert counts.recall == pytest.approx(2 / 3)
    nothing = precision_recall([[]], [[]])
    assert (nothing.precision, nothing.recall) == (1.0, 1.0)


@given(box_lists)
def test_boxes_agree_fully_with_themselves(a: list[tuple[float, ...]]) -> None:
    assert box_agreement(a, a) == pytest.approx(1.0)


@given(box_lists, box_lists)
def test_agreement_is_symmetric_and_bounded(a: list[tuple[float, ...]], b: list[tuple[float, ...]]) -> None:
    value = box_agreement(a, b)
    assert 0.0 <= value <= 1.0 + 1e-12
    assert value == pytest.approx(box_agreement(b, a))


def test_agreement_counts_unmatched_boxes_as_zero() -> None:
    a = [(0, 0, 10, 10), (100, 100, 10, 10)]
    b = [(0, 0, 10, 10)]
    assert box_agreement(a, b) == pytest.approx(1 / 2)
    assert box_agreement([], [(0, 0, 1, 1)]) == 0.0


def test_compare_edits_kept_moved_deleted_added() -> None:
    suggested = [(0, 0, 100, 100), (200, 200, 50, 50), (400, 400, 40, 40), (600, 0, 30, 30)]
    final = [(0, 0, 100, 99), (210, 205, 50, 50), (600, 0, 30, 30), (900, 900, 10, 10)]
    counts = compare_edits(
        suggested,
        final,
        suggested_labels=["face", "face", "face", "face"],
        final_labels=["face", "face", "face", "hand"],
    )
    assert (counts.kept, counts.moved, counts.deleted, counts.added) == (2, 1, 1, 1)
    relabeled = compare_edits([(0, 0, 10, 10)], [(0, 0, 10, 10)], suggested_labels=["a"], final_labels=["b"])
    assert (relabeled.kept, relabeled.moved) == (0, 1)
