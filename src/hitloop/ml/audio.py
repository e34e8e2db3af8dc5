"""Audio features: MFCC statistics, a fixed-length vector per recording.

Mel-frequency cepstral coefficients (Davis & Mermelstein, 1980) summarize the
short-time spectrum the way speech recognizers see it. A clip of any length
becomes one vector: the mean and standard deviation of each coefficient and
its delta over the sounding part of the clip (leading and trailing silence
trimmed), plus the means over ``parts`` equal stretches of it, which keep the
order of sounds ("six" vs "seven").

The mel filters span the telephone band by default (up to 4 kHz): the
formants that tell words apart lie below it, and recordings made at 8 kHz
(calls, many command sets) and at 16 kHz or more then yield comparable
features; filters above a recording's bandwidth would only see silence.
"""

from __future__ import annotations

import itertools
from functools import lru_cache
from typing import Any, Self

import numpy as np
from numpy.typing import NDArray
from scipy.fft import dct, rfft
from sklearn.utils.validation import check_is_fitted

from hitloop.ml.featurizers import Featurizer
from hitloop.ml.linalg import Features

__all__ = ["DEFAULT_SAMPLERATE", "AudioMfcc", "featurizer_samplerate", "mfcc"]

DEFAULT_SAMPLERATE = 16_000


def featurizer_samplerate(featurizer: Any) -> int:
    """The rate to decode recordings at for ``featurizer``: its ``samplerate`` parameter, else 16 kHz."""
    return int(featurizer.get_params().get("samplerate", DEFAULT_SAMPLERATE))


def _hz_to_mel(hz: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(2595.0 * np.log10(1.0 + hz / 700.0))


def _mel_to_hz(mel: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.asarray(700.0 * (10.0 ** (mel / 2595.0) - 1.0))


@lru_cache(maxsize=16)
def _mel_filters(n_mels: int, n_fft: int, samplerate: int, fmax: float) -> NDArray[np.float64]:
    """Triangular filters, shape (n_mels, n_fft // 2 + 1), spaced evenly on the mel scale up to ``fmax``."""
    top = _hz_to_mel(np.array(fmax))
    edges = _mel_to_hz(np.linspace(0.0, float(top), n_mels + 2))
    bins = np.fft.rfftfreq(n_fft, 1.0 / samplerate)
    filters = np.zeros((n_mels, len(bins)))
    for m in range(n_mels):
        lo, mid, hi = edges[m], edges[m + 1], edges[m + 2]
        rising = (bins - lo) / max(mid - lo, 1e-9)
        falling = (hi - bins) / max(hi - mid, 1e-9)
        filters[m] = np.clip(np.minimum(rising, falling), 0.0, None)
    return filters


def mfcc(
    samples: NDArray[np.floating],
    samplerate: int,
    *,
    n_mfcc: int = 13,
    n_mels: int = 40,
    frame_s: float = 0.025,
    hop_s: float = 0.010,
    fmax: float | None = None,
) -> NDArray[np.float64]:
    """MFCCs of a mono signal, shape (n_frames, n_mfcc); a clip shorter than a frame is zero-padded.

    Pre-emphasis 0.97, Hamming window, power spectrum, log mel energies of
    ``n_mels`` filters from 0 Hz to ``fmax`` (default, and at most, half the
    sample rate), DCT-II (orthonormal).
    """
    top = samplerate / 2.0 if fmax is None else min(float(fmax), samplerate / 2.0)
    if not top > 0:
        raise ValueError(f"fmax must be positive, got {fmax}")
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"samples must be mono (1-D), got shape {x.shape}")
    if not np.isfinite(x).all():
        raise ValueError("samples contain NaN or infinite values")
    frame = max(16, round(frame_s * samplerate))
    hop = max(1, round(hop_s * samplerate))
    x = np.append(x[:1], x[1:] - 0.97 * x[:-1]) if len(x) else x
    if len(x) < frame:
        x = np.pad(x, (0, frame - len(x)))
    n_frames = 1 + (len(x) - frame) // hop
    index = np.arange(frame)[None, :] + hop * np.arange(n_frames)[:, None]
    frames = x[index] * np.hamming(frame)
    n_fft = 1 << (frame - 1).bit_length()
    power = np.abs(rfft(frames, n=n_fft, axis=1)) ** 2 / n_fft
    energies = power @ _mel_filters(n_mels, n_fft, samplerate, top).T
    coefficients = dct(np.log(energies + 1e-10), type=2, axis=1, norm="ortho")[:, :n_mfcc]
    return np.asarray(coefficients)


def _deltas(c: NDArray[np.float64]) -> NDArray[np.float64]:
    """First differences over +-2 frames (the regression formula of HTK)."""
    padded = np.pad(c, ((2, 2), (0, 0)), mode="edge")
    num = (padded[3:-1] - padded[1:-3]) + 2 * (padded[4:] - padded[:-4])
    return np.asarray(num / 10.0)


_DB_PER_NEPER = 10.0 / np.log(10.0)


def _sounding(c: NDArray[np.float64], n_mels: int, below_db: float | None) -> NDArray[np.float64]:
    """The frames from the first to the last within ``below_db`` dB of the loudest frame.

    ``c[:, 0]`` of the orthonormal DCT is ``sqrt(n_mels)`` times a frame's mean
    log mel energy, so the level in dB is ``c0 / sqrt(n_mels) * 10 / ln 10``.
    """
    if below_db is None or len(c) < 2:
        return c
    level = c[:, 0] / np.sqrt(n_mels) * _DB_PER_NEPER
    loud = np.flatnonzero(level >= level.max() - below_db)
    return c[loud[0] : loud[-1] + 1]


class AudioMfcc(Featurizer):
    """MFCC statistics per recording, standardized on the pool.

    Parameters
    ----------
    samplerate : int
        The rate the recordings are decoded at (the loader resamples to it).
    n_mfcc : int
        Cepstral coefficients per frame.
    n_mels : int
        Mel filters.
    fmax : float or None
        Upper edge of the mel filters in Hz (None: half the sample rate).
    trim_db : float or None
        Leave out leading and trailing frames more than this many dB below
        the clip's loudest frame (None: keep the whole clip).
    parts : int
        Also average the coefficients over this many equal stretches of each
        (trimmed) clip (0 for none).

    Attributes
    ----------
    mean_, scale_ : ndarray of shape (n_features,)
        Standardization learned in ``fit``.
    n_features_out_ : int
    """

    modality = "audio"

    def __init__(
        self,
        samplerate: int = DEFAULT_SAMPLERATE,
        n_mfcc: int = 16,
        n_mels: int = 26,
        fmax: float | None = 4000.0,
        trim_db: float | None = 25.0,
        parts: int = 4,
    ) -> None:
        self.samplerate = samplerate
        self.n_mfcc = n_mfcc
        self.n_mels = n_mels
        self.fmax = fmax
        self.trim_db = trim_db
        self.parts = parts

    def _vectors(self, X: Any) -> NDArray[np.float64]:
        if isinstance(X, np.ndarray) and X.dtype != object and X.ndim == 1:
            raise TypeError("expected a sequence of recordings, got one 1-D array")
        clips = list(X)
        if not clips:
            raise ValueError("no recordings given")
        out = []
        for clip in clips:
            if isinstance(clip, str | bytes):
                raise TypeError("featurizers take decoded sample arrays; load files at the edge")
            c = mfcc(
                np.asarray(clip), self.samplerate, n_mfcc=self.n_mfcc, n_mels=self.n_mels, fmax=self.fmax
            )
            c = _sounding(c, self.n_mels, self.trim_db)
            d = _deltas(c)
            blocks = [c.mean(0), c.std(0), d.mean(0), d.std(0)]
            if self.parts:
                edges = np.linspace(0, len(c), self.parts + 1).astype(int)
                for a, b in itertools.pairwise(edges):
                    blocks.append(c[a : max(b, a + 1)].mean(0))
            out.append(np.concatenate(blocks))
        return np.vstack(out)

    def fit(self, X: Any, y: Any = None) -> Self:
        if self.parts < 0:
            raise ValueError(f"parts must be >= 0, got {self.parts}")
        if self.trim_db is not None and not self.trim_db > 0:
            raise ValueError(f"trim_db must be positive or None, got {self.trim_db}")
        if self.fmax is not None and not self.fmax > 0:
            raise ValueError(f"fmax must be positive or None, got {self.fmax}")
        vectors = self._vectors(X)
        self.mean_ = vectors.mean(axis=0)
        scale = vectors.std(axis=0)
        self.scale_ = np.where(scale > 1e-9, scale, 1.0)
        self.n_features_out_ = vectors.shape[1]
        return self

    def transform(self, X: Any) -> Features:
        check_is_fitted(self, "mean_")
        return (self._vectors(X) - self.mean_) / self.scale_
