"""Speech measures and silence segmentation: pure functions over text and samples.

Word error rate compares a recognizer's draft with the transcript a person
settled on; keystroke savings estimate the typing a draft spares; the
energy-based segmenter splits a long recording at pauses so it can be
transcribed (and corrected) piece by piece.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray
from rapidfuzz.distance import Levenshtein

__all__ = [
    "EditCounts",
    "edit_counts",
    "energy_segments",
    "keystrokes_to_correct",
    "normalize_words",
    "word_errors",
]

_WORD = re.compile(r"[a-z0-9']+")
# Frames quieter than this (dB relative to full scale) are silence whatever the recording.
_SILENT_DB = -70.0


def normalize_words(text: str) -> list[str]:
    """Lower-case words without punctuation: how WER is scored ("Mr." and "mr" match)."""
    return [w.strip("'") for w in _WORD.findall(text.lower()) if w.strip("'")]


def word_errors(reference: str, hypothesis: str) -> int:
    """Substitutions + insertions + deletions turning ``hypothesis`` into ``reference``, in words."""
    return int(Levenshtein.distance(normalize_words(reference), normalize_words(hypothesis)))


def keystrokes_to_correct(draft: str, final: str) -> int:
    """Keystrokes to turn ``draft`` into ``final``: one per character inserted, deleted or replaced.

    A lower bound on real editing (cursor moves are free), the usual
    keystroke-saving model; typing from scratch costs ``len(final)``.
    Whitespace runs count as one space.
    """
    return int(Levenshtein.distance(" ".join(draft.split()), " ".join(final.split())))


@dataclass(frozen=True)
class EditCounts:
    """Drafts against final transcripts, summed over items."""

    transcripts: int
    words: int
    word_errors: int
    keystrokes_typed: int
    keystrokes_corrected: int

    @property
    def wer(self) -> float | None:
        """Word errors per reference word (None with no words)."""
        return self.word_errors / self.words if self.words else None

    @property
    def keystrokes_saved(self) -> float | None:
        """Fraction of typing saved by correcting instead of typing; negative if drafts hurt."""
        if not self.keystrokes_typed:
            return None
        return 1.0 - self.keystrokes_corrected / self.keystrokes_typed


def edit_counts(pairs: Iterable[tuple[str, str]]) -> EditCounts:
    """Sum :func:`word_errors` and keystrokes over ``(draft, final)`` pairs."""
    n = words = errors = typed = corrected = 0
    for draft, final in pairs:
        n += 1
        words += len(normalize_words(final))
        errors += word_errors(final, draft)
        typed += len(" ".join(final.split()))
        corrected += keystrokes_to_correct(draft, final)
    return EditCounts(n, words, errors, typed, corrected)


def energy_segments(
    samples: NDArray[np.floating] | Sequence[float],
    samplerate: int,
    *,
    frame_s: float = 0.03,
    margin_db: float = 12.0,
    min_silence_s: float = 0.4,
    min_speech_s: float = 0.25,
    pad_s: float = 0.15,
    max_segment_s: float = 30.0,
) -> list[tuple[float, float]]:
    """Split a recording at pauses; returns ``(start, end)`` seconds of each voiced stretch.

    A frame is voiced when its energy is ``margin_db`` above the noise floor
    (the 10th percentile of frame energies, at most 50 dB under the loudest
    frame) or within 20 dB of the loudest frame, and above -70 dBFS. Gaps shorter
    than ``min_silence_s`` are bridged, stretches shorter than ``min_speech_s``
    dropped, each kept stretch padded by ``pad_s``, and stretches longer than
    ``max_segment_s`` cut at their quietest frame.

    Parameters
    ----------
    samples : array of shape (n_samples,)
        Mono audio.
    samplerate : int
        Samples per second.

    Returns
    -------
    list of (float, float)
        In order, not overlapping, within ``[0, n_samples / samplerate]``.
    """
    x = np.asarray(samples, dtype=np.float64)
    if x.ndim != 1:
        raise ValueError(f"samples must be mono (1-D), got shape {x.shape}")
    if samplerate <= 0:
        raise ValueError("samplerate must be positive")
    hop = max(1, int(frame_s * samplerate))
    n = len(x) // hop
    if n == 0:
        return []
    frames = x[: n * hop].reshape(n, hop)
    db = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    loudest = float(db.max())
    floor = max(float(np.percentile(db, 10)), loudest - 50.0)
    # Without pauses the floor is the speech itself: then anything within 20 dB of the loudest counts.
    threshold = min(floor + margin_db, loudest - 20.0)
    voiced = (db > threshold) & (db > _SILENT_DB)
    runs = _runs(voiced)
    # Bridge short pauses.
    merged: list[list[int]] = []
    gap = round(min_silence_s / frame_s)
    for start, end in runs:
        if merged and start - merged[-1][1] < gap:
            merged[-1][1] = end
        else:
            merged.append([start, end])
    keep = round(min_speech_s / frame_s)
    total = len(x) / samplerate
    out: list[tuple[float, float]] = []
    longest = max(1, int(max_segment_s / frame_s))
    for start, end in merged:
        if end - start < keep:
            continue
        for a, b in _cut(db, start, end, longest):
            lo = max(0.0, a * hop / samplerate - pad_s)
            hi = min(total, b * hop / samplerate + pad_s)
            if out and lo < out[-1][1]:
                lo = out[-1][1]
            if hi > lo:
                out.append((round(lo, 3), round(hi, 3)))
    return out


def _runs(mask: NDArray[np.bool_]) -> list[tuple[int, int]]:
    """Half-open index ranges where ``mask`` is true."""
    padded = np.concatenate([[False], mask, [False]])
    edges = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return [(int(a), int(b)) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def _cut(db: NDArray[np.float64], start: int, end: int, longest: int) -> list[tuple[int, int]]:
    """Split [start, end) at the quietest frame of its middle until no piece exceeds ``longest``."""
    if end - start <= longest:
        return [(start, end)]
    lo, hi = start + longest // 4, end - longest // 4
    split = lo + int(np.argmin(db[lo:hi])) if hi > lo else (start + end) // 2
    split = min(max(split, start + 1), end - 1)
    return _cut(db, start, split, longest) + _cut(db, split, end, longest)
