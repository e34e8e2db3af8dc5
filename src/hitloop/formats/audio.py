"""Check audio bytes before they are stored, and decode them for features and speech.

WAV, FLAC, MP3 and OGG (Vorbis or Opus) are decoded by libsndfile through
``soundfile``. The first bytes are matched against those four containers
before libsndfile sees anything, so it never parses another format. The header
is checked for sane values (rate, channels, a declared length under the
limit); then the whole file is decoded in blocks, which catches damaged files,
measures the true length (an MP3 header only estimates it) and yields the
waveform's peaks for the player, in constant memory.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from hitloop.errors import PayloadTooLargeError, UnsupportedMediaError

__all__ = [
    "AUDIO_CONTENT_TYPES",
    "AUDIO_EXTENSIONS",
    "AudioInfo",
    "check_audio",
    "decode_audio",
    "sniff_audio",
]

AUDIO_CONTENT_TYPES: dict[str, str] = {
    "WAV": "audio/wav",
    "FLAC": "audio/flac",
    "MP3": "audio/mpeg",
    "OGG": "audio/ogg",
}
AUDIO_EXTENSIONS = frozenset({".wav", ".flac", ".mp3", ".ogg", ".oga", ".opus"})
_ALLOWED = "WAV, FLAC, MP3 or OGG"
MIN_RATE, MAX_RATE = 1_000, 384_000
MAX_CHANNELS = 32
#: Peak pairs (min, max) kept per file: enough for a waveform a few thousand pixels wide.
PEAKS = 2_000
_BLOCK = 1 << 16
# Peaks are first taken over short windows (this many per second), then merged.
_WINDOWS_PER_S = 50


@dataclass(frozen=True, slots=True)
class AudioInfo:
    """What :func:`check_audio` learned.

    ``peaks`` has shape (n, 2): the lowest and highest sample of each of n
    equal slices of the recording (all channels), scaled to -127..127.
    """

    content_type: str
    format: str
    samplerate: int
    channels: int
    frames: int
    peaks: NDArray[np.int8]

    @property
    def duration(self) -> float:
        return self.frames / self.samplerate


def sniff_audio(head: bytes) -> str | None:
    """The container named by the first bytes (one of :data:`AUDIO_CONTENT_TYPES`), or None."""
    if head[:4] in (b"RIFF", b"RF64") and head[8:12] == b"WAVE":
        return "WAV"
    if head[:4] == b"fLaC":
        return "FLAC"
    if head[:4] == b"OggS":
        return "OGG"
    if head[:3] == b"ID3":
        return "MP3"
    # A bare MPEG audio frame: 11 sync bits, layer III.
    if len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06 == 0x02:
        return "MP3"
    return None


def _soundfile() -> Any:
    try:
        import soundfile
    except (ImportError, OSError) as exc:  # OSError: the wheel's libsndfile failed to load
        raise ImportError("audio needs the soundfile package: pip install soundfile") from exc
    return soundfile


def _open(data: bytes, kind: str, name: str) -> Any:
    sf = _soundfile()
    try:
        return sf.SoundFile(io.BytesIO(data))
    except (sf.LibsndfileError, RuntimeError, TypeError, ValueError) as exc:
        raise UnsupportedMediaError(f"the {kind} audio is damaged: {_reason(exc)}", file=name) from None


def _reason(exc: Exception) -> str:
    # libsndfile's own words, without the Python object's repr that soundfile adds.
    return str(getattr(exc, "error_string", None) or exc).strip()


def check_audio(data: bytes, *, max_seconds: float, name: str) -> AudioInfo:
    """Return the audio's type, length and peaks, or refuse it.

    Raises
    ------
    UnsupportedMediaError
        Not one of the allowed containers, a header with absurd values, or a
        file that fails to decode.
    PayloadTooLargeError
        Longer than ``max_seconds`` (by its header, or once decoded).
    """
    kind = sniff_audio(data[:16])
    if kind is None:
        raise UnsupportedMediaError(f"not a {_ALLOWED} audio file", file=name)
    sf = _soundfile()
    with _open(data, kind, name) as f:
        rate, channels, declared = int(f.samplerate), int(f.channels), int(f.frames)
        if not MIN_RATE <= rate <= MAX_RATE:
            raise UnsupportedMediaError(
                f"the header declares a sample rate of {rate} Hz (allowed {MIN_RATE}-{MAX_RATE})", file=name
            )
        if not 1 <= channels <= MAX_CHANNELS:
            raise UnsupportedMediaError(
                f"the header declares {channels} channels (allowed 1-{MAX_CHANNELS})", file=name
            )
        limit = int(max_seconds * rate)
        if declared > limit:
            raise _too_long(name, declared / rate, max_seconds)
        highs: list[NDArray[np.float32]] = []
        lows: list[NDArray[np.float32]] = []
        window = max(1, rate // _WINDOWS_PER_S)
        frames = 0
        carry = np.zeros(0, dtype=np.float32)
        try:
            for block in f.blocks(blocksize=_BLOCK, dtype="float32", always_2d=True):
                frames += len(block)
                if frames > limit:
                    raise _too_long(name, None, max_seconds)
                # Loudest channel per frame keeps the envelope of a stereo file.
                mono = np.concatenate([carry, _extreme(block)])
                whole = len(mono) // window * window
                if whole:
                    chunk = mono[:whole].reshape(-1, window)
                    highs.append(chunk.max(axis=1))
                    lows.append(chunk.min(axis=1))
                carry = mono[whole:]
        except (sf.LibsndfileError, RuntimeError, ValueError) as exc:
            raise UnsupportedMediaError(f"the {kind} audio is damaged: {_reason(exc)}", file=name) from None
    if len(carry):
        highs.append(carry.max(keepdims=True))
        lows.append(carry.min(keepdims=True))
    if frames == 0:
        raise UnsupportedMediaError("the audio holds no samples", file=name)
    if not np.isfinite(np.concatenate(highs)).all():
        raise UnsupportedMediaError("the audio holds samples that are not numbers", file=name)
    peaks = _merge(np.concatenate(lows), np.concatenate(highs), PEAKS)
    return AudioInfo(AUDIO_CONTENT_TYPES[kind], kind, rate, channels, frames, peaks)


def _extreme(block: NDArray[np.float32]) -> NDArray[np.float32]:
    if block.shape[1] == 1:
        return block[:, 0]
    index = np.abs(block).argmax(axis=1)
    return np.asarray(block[np.arange(len(block)), index], dtype=np.float32)


def _merge(lows: NDArray[np.float32], highs: NDArray[np.float32], n: int) -> NDArray[np.int8]:
    """Merge window peaks into at most ``n`` equal slices, scaled to int8."""
    edges = np.linspace(0, len(lows), min(n, len(lows)) + 1).astype(np.intp)
    low = np.minimum.reduceat(lows, edges[:-1])
    high = np.maximum.reduceat(highs, edges[:-1])
    pairs = np.stack([low, high], axis=1)
    return np.asarray(np.clip(np.round(pairs * 127), -127, 127), dtype=np.int8)


def _too_long(name: str, seconds: float | None, max_seconds: float) -> PayloadTooLargeError:
    said = "" if seconds is None else f" ({seconds:,.0f} s)"
    return PayloadTooLargeError(
        f"the recording is longer{said} than the limit of {max_seconds:,.0f} seconds", file=name
    )


def decode_audio(
    source: bytes | Path, *, samplerate: int | None = None, start: float = 0.0, end: float | None = None
) -> tuple[NDArray[np.float32], int]:
    """Decode to mono float32 (channels averaged), optionally resampled; returns (samples, rate).

    ``start`` and ``end`` (seconds) decode only that stretch.
    """
    sf = _soundfile()
    handle = io.BytesIO(source) if isinstance(source, bytes) else str(source)
    with sf.SoundFile(handle) as f:
        rate = int(f.samplerate)
        first = int(start * rate)
        if first:
            f.seek(min(first, f.frames))
        count = -1 if end is None else max(0, int(end * rate) - first)
        audio = f.read(frames=count, dtype="float32", always_2d=True).mean(axis=1)
    samples = np.asarray(audio, dtype=np.float32)
    if samplerate is not None and samplerate != rate:
        samples = _resample(samples, rate, samplerate)
        rate = samplerate
    return samples, rate


def _resample(samples: NDArray[np.float32], rate: int, target: int) -> NDArray[np.float32]:
    from math import gcd

    from scipy.signal import resample_poly

    g = gcd(rate, target)
    out: NDArray[np.float32] = np.asarray(resample_poly(samples, target // g, rate // g), dtype=np.float32)
    return out


def iter_blocks(path: Path, seconds: float) -> Iterator[NDArray[np.float32]]:
    """Mono float32 blocks of about ``seconds`` each, for long recordings."""
    sf = _soundfile()
    with sf.SoundFile(str(path)) as f:
        size = max(1, int(seconds * f.samplerate))
        for block in f.blocks(blocksize=size, dtype="float32", always_2d=True):
            yield np.asarray(block.mean(axis=1), dtype=np.float32)
