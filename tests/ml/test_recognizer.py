"""PocketSphinx drafts on synthesized speech (flite's "slt" voice)."""

from __future__ import annotations

import numpy as np
import pytest

from hitloop.ml.recognizer import SAMPLERATE, PocketSphinxRecognizer, transcribe_long
from hitloop.ml.speech import word_errors
from tests import sounds
from tests.sounds import SENTENCE, silence

voice = sounds.voice
recognizer = sounds.recognizer


def test_recognizer_hears_the_sentence(voice: np.ndarray, recognizer: PocketSphinxRecognizer) -> None:
    draft = recognizer.recognize(voice, offset=10.0)
    assert word_errors(SENTENCE, draft.text) <= 3
    assert all(0.0 <= w.confidence <= 1.0 for w in draft.words)
    starts = [w.start for w in draft.words]
    assert starts == sorted(starts) and starts[0] >= 10.0
    assert draft.words[-1].end <= 10.0 + len(voice) / SAMPLERATE + 0.05


def test_long_recordings_go_segment_by_segment(voice: np.ndarray, recognizer: PocketSphinxRecognizer) -> None:
    pause = silence(1.5, seed=3)
    recording = np.concatenate([pause, voice, pause, voice, pause])
    pieces = transcribe_long(recording, recognizer, max_segment_s=30.0)
    assert len(pieces) == 2
    (a0, a1, first), (b0, _b1, second) = pieces
    assert a0 == pytest.approx(1.5, abs=0.3) and b0 > a1
    assert word_errors(SENTENCE, first.text) <= 3 and word_errors(SENTENCE, second.text) <= 3
    assert second.words[0].start >= b0
