"""MFCC statistics: shapes, the estimator contract, and that they tell sounds apart."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.linear_model import LogisticRegression

from hitloop.ml.audio import AudioMfcc, mfcc
from hitloop.ml.defaults import default_featurizer


def _tone(freq: float, seconds: float, rng: np.random.Generator, rate: int = 8000) -> np.ndarray:
    t = np.arange(int(seconds * rate)) / rate
    return np.sin(2 * np.pi * freq * t) * 0.5 + rng.standard_normal(len(t)) * 0.01


def test_mfcc_shape_and_short_clips() -> None:
    rng = np.random.default_rng(0)
    assert mfcc(_tone(440, 1.0, rng), 8000).shape == (98, 13)
    assert mfcc(np.zeros(10), 8000).shape == (1, 13)  # shorter than a frame: padded
    with pytest.raises(ValueError, match="mono"):
        mfcc(np.zeros((10, 2)), 8000)
    with pytest.raises(ValueError, match="NaN"):
        mfcc(np.array([0.0, np.nan] * 200), 8000)


def test_featurizer_separates_rising_from_falling_sweeps() -> None:
    # Same sounds, different order: the per-part means must tell them apart.
    rng = np.random.default_rng(1)
    clips, labels = [], []
    for i in range(40):
        low, high = _tone(300 + i, 0.3, rng), _tone(2000 + i, 0.3, rng)
        clips.append(np.concatenate([low, high]) if i % 2 else np.concatenate([high, low]))
        labels.append(i % 2)
    features = AudioMfcc(samplerate=8000).fit_transform(clips)
    assert features.shape == (40, 13 * 4 + 13 * 3)
    assert np.allclose(features.mean(axis=0), 0, atol=1e-9)
    model = LogisticRegression().fit(features[:30], labels[:30])
    assert model.score(features[30:], labels[30:]) == 1.0
    without_order = AudioMfcc(samplerate=8000, parts=0).fit_transform(clips)
    assert without_order.shape == (40, 52)


def test_estimator_contract() -> None:
    featurizer = AudioMfcc(samplerate=8000, parts=2)
    assert clone(featurizer).get_params() == {"samplerate": 8000, "n_mfcc": 13, "n_mels": 40, "parts": 2}
    with pytest.raises(ValueError, match="parts"):
        AudioMfcc(parts=-1).fit([np.zeros(800)])
    with pytest.raises(TypeError, match="load files at the edge"):
        AudioMfcc().fit(["clip.wav"])
    with pytest.raises(TypeError, match="sequence of recordings"):
        AudioMfcc().fit(np.zeros(800))


def test_audio_is_a_modality_with_defaults() -> None:
    assert isinstance(default_featurizer("audio"), AudioMfcc)
