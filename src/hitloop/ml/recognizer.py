"""Offline speech recognition for transcription drafts.

The default recognizer is CMU PocketSphinx with the US English acoustic
model, dictionary and language model that ship inside the ``pocketsphinx``
wheel: nothing is downloaded. Optional: ``pip install 'hitloop[speech]'``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray

from hitloop.errors import MissingExtraError
from hitloop.ml.speech import energy_segments

__all__ = ["Draft", "PocketSphinxRecognizer", "Recognizer", "Word", "transcribe_long"]

SAMPLERATE = 16_000
_FRAMES_PER_S = 100  # PocketSphinx's frame rate (10 ms frames)


@dataclass(frozen=True)
class Word:
    """One recognized word: seconds from the start of the recording, posterior probability."""

    text: str
    start: float
    end: float
    confidence: float


@dataclass(frozen=True)
class Draft:
    """A recognizer's transcript of one stretch of audio."""

    words: list[Word]

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)

    @property
    def confidence(self) -> float | None:
        """Mean word confidence (None for no words)."""
        return float(np.mean([w.confidence for w in self.words])) if self.words else None


class Recognizer(Protocol):
    """Anything that turns 16 kHz mono float samples into a :class:`Draft`."""

    def recognize(self, samples: NDArray[np.float32], offset: float = 0.0) -> Draft: ...


class PocketSphinxRecognizer:
    """PocketSphinx with its packaged English model.

    Parameters
    ----------
    options : dict
        Extra PocketSphinx configuration (e.g. ``{"lm": path}``), passed as given.

    Attributes
    ----------
    decoder_ : pocketsphinx.Decoder
        Created on first use (loading the model takes about a second).
    """

    def __init__(self, options: dict[str, Any] | None = None) -> None:
        self.options = options

    def _decoder(self) -> Any:
        decoder = getattr(self, "decoder_", None)
        if decoder is None:
            try:
                from pocketsphinx import Decoder
            except ImportError as exc:
                raise MissingExtraError(
                    "speech drafts need the pocketsphinx package: pip install 'hitloop[speech]'"
                ) from exc
            settings = {"samprate": SAMPLERATE, "bestpath": True, "loglevel": "FATAL"}
            decoder = Decoder(**{**settings, **(self.options or {})})
            self.decoder_ = decoder
        return decoder

    def recognize(self, samples: NDArray[np.float32], offset: float = 0.0) -> Draft:
        """Recognize one utterance of 16 kHz mono samples in [-1, 1]; times are shifted by ``offset``."""
        x = np.asarray(samples, dtype=np.float32)
        if x.ndim != 1:
            raise ValueError(f"samples must be mono (1-D), got shape {x.shape}")
        pcm = (np.clip(x, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        decoder = self._decoder()
        decoder.start_utt()
        decoder.process_raw(pcm, full_utt=True)
        decoder.end_utt()
        words = []
        if decoder.hyp() is not None:
            for seg in decoder.seg():
                text = _word(seg.word)
                if text is None:
                    continue
                words.append(
                    Word(
                        text=text,
                        start=round(offset + seg.start_frame / _FRAMES_PER_S, 2),
                        end=round(offset + (seg.end_frame + 1) / _FRAMES_PER_S, 2),
                        confidence=round(float(min(1.0, max(0.0, seg.prob))), 3),
                    )
                )
        return Draft(words)


def _word(raw: str) -> str | None:
    """Drop fillers (``<s>``, ``<sil>``, ``[NOISE]``) and pronunciation variants (``been(2)``)."""
    if not raw or raw[0] in "<[":
        return None
    return raw.split("(", 1)[0]


def transcribe_long(
    samples: NDArray[np.float32], recognizer: Recognizer, *, max_segment_s: float = 30.0
) -> list[tuple[float, float, Draft]]:
    """Split 16 kHz mono samples at pauses and recognize each voiced stretch.

    Returns ``(start, end, draft)`` per segment, word times in seconds from
    the start of the recording.
    """
    out = []
    for start, end in energy_segments(samples, SAMPLERATE, max_segment_s=max_segment_s):
        piece = samples[int(start * SAMPLERATE) : int(end * SAMPLERATE)]
        out.append((start, end, recognizer.recognize(piece, offset=start)))
    return out
