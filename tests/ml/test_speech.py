"""Word error rate, keystroke savings and silence segmentation."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from hitloop.ml.speech import (
    edit_counts,
    energy_segments,
    keystrokes_to_correct,
    normalize_words,
    word_errors,
)


@pytest.mark.parametrize(
    ("reference", "hypothesis", "errors"),
    [
        ("hello world", "hello world", 0),
        ("Hello, World!", "hello world", 0),
        ("the cat sat", "the cat sat down", 1),
        ("the cat sat", "cat sat", 1),
        ("the cat sat", "a dog sat", 2),
        ("", "noise", 1),
    ],
    ids=["same", "case-punctuation", "insertion", "deletion", "substitutions", "empty-reference"],
)
def test_word_errors(reference: str, hypothesis: str, errors: int) -> None:
    assert word_errors(reference, hypothesis) == errors


def test_normalize_keeps_apostrophes_inside_words() -> None:
    assert normalize_words("Don't STOP -- 'now' 42.") == ["don't", "stop", "now", "42"]


def test_keystrokes_count_characters_changed() -> None:
    assert keystrokes_to_correct("hello world", "hello world") == 0
    assert keystrokes_to_correct("helo  world", "hello world") == 1
    assert keystrokes_to_correct("", "abc") == 3


def test_edit_counts_sum_over_items() -> None:
    counts = edit_counts([("the cat sat", "the cat sat"), ("a dog", "the dog ran")])
    assert (counts.transcripts, counts.words, counts.word_errors) == (2, 6, 2)
    assert counts.wer == pytest.approx(2 / 6)
    assert counts.keystrokes_typed == len("the cat sat") + len("the dog ran")
    assert counts.keystrokes_saved == pytest.approx(1 - counts.keystrokes_corrected / counts.keystrokes_typed)
    empty = edit_counts([])
    assert empty.wer is None and empty.keystrokes_saved is None


@given(st.text(alphabet="ab ", max_size=30), st.text(alphabet="ab ", max_size=30))
def test_word_errors_is_a_distance(a: str, b: str) -> None:
    d = word_errors(a, b)
    assert d == word_errors(b, a)
    assert d <= max(len(normalize_words(a)), len(normalize_words(b)))
    assert (d == 0) == (normalize_words(a) == normalize_words(b))


RATE = 8000


def _burst(seconds: float) -> np.ndarray:
    t = np.arange(int(seconds * RATE)) / RATE
    return 0.5 * np.sin(2 * np.pi * 300 * t)


def _pause(seconds: float, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal(int(seconds * RATE)) * 0.001


def test_segments_split_at_pauses() -> None:
    x = np.concatenate([_pause(0.5), _burst(1.0), _pause(1.0, 1), _burst(2.0), _pause(0.1, 2), _burst(0.5)])
    segments = energy_segments(x, RATE, pad_s=0.0)
    # The 0.1 s pause is bridged; the 1 s pause splits.
    assert len(segments) == 2
    (a0, a1), (b0, b1) = segments
    assert a0 == pytest.approx(0.5, abs=0.04) and a1 == pytest.approx(1.5, abs=0.04)
    assert b0 == pytest.approx(2.5, abs=0.04) and b1 == pytest.approx(5.1, abs=0.04)


def test_short_clicks_are_dropped_and_padding_stays_inside() -> None:
    x = np.concatenate([_burst(0.05), _pause(1.0), _burst(1.0)])
    segments = energy_segments(x, RATE, pad_s=0.3)
    assert len(segments) == 1
    assert segments[0][1] == pytest.approx(len(x) / RATE, abs=1e-3)


def test_long_stretches_are_cut_at_their_quietest_point() -> None:
    x = np.concatenate([_burst(20.0), _burst(0.2) * 0.01, _burst(20.0)])
    segments = energy_segments(x, RATE, max_segment_s=25.0, pad_s=0.0)
    assert len(segments) == 2
    assert 20.0 <= segments[0][1] <= 20.25
    assert all(b - a <= 25.0 for a, b in segments)


def test_silence_and_steady_sound() -> None:
    assert energy_segments(np.zeros(RATE), RATE) == []
    assert energy_segments(np.zeros(10), RATE) == []
    steady = energy_segments(_burst(3.0), RATE)
    assert steady == [(0.0, 3.0)]
    with pytest.raises(ValueError, match="mono"):
        energy_segments(np.zeros((10, 2)), RATE)
