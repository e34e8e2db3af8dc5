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
    assert features.shape == (40, 16 * 4 + 16 * 4)
    assert np.allclose(features.mean(axis=0), 0, atol=1e-9)
    model = LogisticRegression().fit(features[:30], labels[:30])
    assert model.score(features[30:], labels[30:]) == 1.0
    without_order = AudioMfcc(samplerate=8000, parts=0).fit_transform(clips)
    assert without_order.shape == (40, 64)


def test_estimator_contract() -> None:
    featurizer = AudioMfcc(samplerate=8000, parts=2)
    assert clone(featurizer).get_params() == {
        "samplerate": 8000,
        "n_mfcc": 16,
        "n_mels": 26,
        "fmax": 4000.0,
        "trim_db": 25.0,
        "parts": 2,
    }
    with pytest.raises(ValueError, match="parts"):
        AudioMfcc(parts=-1).fit([np.zeros(800)])
    with pytest.raises(ValueError, match="trim_db"):
        AudioMfcc(trim_db=0).fit([np.zeros(800)])
    with pytest.raises(ValueError, match="fmax"):
        AudioMfcc(fmax=-1.0).fit([np.zeros(800)])
    with pytest.raises(TypeError, match="load files at the edge"):
        AudioMfcc().fit(["clip.wav"])
    with pytest.raises(TypeError, match="sequence of recordings"):
        AudioMfcc().fit(np.zeros(800))


def test_audio_is_a_modality_with_defaults() -> None:
    assert isinstance(default_featurizer("audio"), AudioMfcc)


def _word(rng: np.random.Generator, rate: int) -> np.ndarray:
    """A 'word': two vowel-like harmonic tones at random pitches, then a noise burst (a fricative)."""
    t = np.arange(int(0.2 * rate)) / rate
    pitches = rng.uniform(120, 300, size=2)
    vowels = [sum(np.sin(2 * np.pi * p * k * t) / k for k in (1, 2, 4, 6)) for p in pitches]
    return np.concatenate([*vowels, rng.standard_normal(len(t)) * 0.3]) * 0.3


def _distances(
    featurizer: AudioMfcc, words: list[np.ndarray], word: np.ndarray, padded: np.ndarray
) -> tuple[float, float]:
    """Distance of a word to itself padded with silence, and the median distance between different words."""
    features = featurizer.fit([*words, padded]).transform([word, padded, *words[1:]])
    between = [np.linalg.norm(features[i] - features[j]) for i in range(2, 8) for j in range(i + 1, 8)]
    return float(np.linalg.norm(features[0] - features[1])), float(np.median(between))


def test_silence_around_a_word_is_trimmed() -> None:
    rng = np.random.default_rng(2)
    words = [_word(rng, 8000) for _ in range(8)]
    hiss = rng.standard_normal(8000) * 1e-4  # one second of near-silence
    words = [np.concatenate([hiss[:800], w, hiss[:800]]) for w in words]  # 0.1 s of it around each word
    padded = np.concatenate([hiss, words[0], hiss[:4000]])  # and much more around one of them
    same, between = _distances(AudioMfcc(samplerate=8000, trim_db=25.0), words, words[0], padded)
    assert same < 0.2 * between  # trimmed: the padded word is the word
    same, between = _distances(AudioMfcc(samplerate=8000, trim_db=None), words, words[0], padded)
    assert same > between  # whole clip: the silence outweighs the difference between words


def test_telephone_band_makes_8_and_16_khz_recordings_comparable() -> None:
    from scipy.signal import resample_poly

    rng = np.random.default_rng(3)
    narrow = _word(rng, 8000)
    wide = resample_poly(narrow, 2, 1)  # the same sounds at 16 kHz
    at8 = mfcc(narrow, 8000, n_mfcc=16, n_mels=26, fmax=4000)
    at16 = mfcc(wide, 16000, n_mfcc=16, n_mels=26, fmax=4000)
    assert at8.shape == at16.shape
    spread = at8[:, 1:].std()
    assert np.abs(at8[2:-2, 1:] - at16[2:-2, 1:]).mean() < 0.1 * spread  # same cepstra up to the level (c0)
    full16 = mfcc(wide, 16000, n_mfcc=16, n_mels=26)  # filters up to 8 kHz, half of them on silence
    assert np.abs(at8[2:-2, 1:] - full16[2:-2, 1:]).mean() > 0.3 * spread
    with pytest.raises(ValueError, match="fmax"):
        mfcc(narrow, 8000, fmax=0.0)
