"""The answer table: encoding arbitrary values and validating codes."""

from __future__ import annotations

import numpy as np
import pytest

from hitloop.ml.aggregation import MajorityVote, check_answers, encode_answers


def test_encodes_sorted_values_and_decodes_labels() -> None:
    enc = encode_answers(["b", "a", "b"], ["w2", "w1", "w1"], ["cat", "dog", "cat"])
    assert enc.items == ["a", "b"] and enc.workers == ["w1", "w2"] and enc.classes == ["cat", "dog"]
    np.testing.assert_array_equal(enc.answers, [[1, 1, 0], [0, 0, 1], [1, 0, 0]])
    labels = MajorityVote().fit(enc.answers).labels_
    assert enc.decode_labels(labels) == ["dog", "cat"]


def test_unorderable_values_keep_first_seen_order() -> None:
    enc = encode_answers([1, "x", (2, 3)], ["w", "w", "w"], [True, None, True])
    assert enc.items == [1, "x", (2, 3)]
    assert enc.classes == [True, None]


def test_given_classes_fix_the_codes_and_reject_strangers() -> None:
    enc = encode_answers([1, 2], ["w", "w"], ["neg", "neg"], classes=["pos", "neg"])
    assert enc.classes == ["pos", "neg"]
    np.testing.assert_array_equal(enc.answers[:, 2], [1, 1])
    with pytest.raises(ValueError, match="'maybe' is not among"):
        encode_answers([1], ["w"], ["maybe"], classes=["pos", "neg"])


def test_lengths_must_match() -> None:
    with pytest.raises(ValueError, match="same length"):
        encode_answers([1, 2], ["w"], ["a", "b"])


def test_empty_input_gives_an_empty_table() -> None:
    assert encode_answers([], [], []).answers.shape == (0, 3)


def test_check_answers_sizes_and_refusals() -> None:
    t = check_answers(np.array([[0, 3, 1], [4, 0, 0]]), n_classes=5)
    assert (t.n_items, t.n_workers, t.n_classes, t.n_answers) == (5, 4, 5, 2)
    assert check_answers(np.array([[0.0, 1.0, 2.0]])).n_classes == 3  # whole floats are codes
    with pytest.raises(ValueError, match="out of range"):
        check_answers(np.array([[0, 0, 3]]), n_classes=3)
    with pytest.raises(ValueError, match="integer codes"):
        check_answers(np.array([["a", "b", "c"]]))
