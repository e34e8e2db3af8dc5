"""check_audio: the four containers accepted, everything else refused with the file's name."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from hitloop.errors import PayloadTooLargeError, UnsupportedMediaError
from hitloop.formats.audio import PEAKS, check_audio, decode_audio, sniff_audio
from tests.sounds import encode, silence, tone


@pytest.mark.parametrize(
    ("format", "content_type"),
    [("WAV", "audio/wav"), ("FLAC", "audio/flac"), ("OGG", "audio/ogg"), ("MP3", "audio/mpeg")],
    ids=["wav", "flac", "ogg", "mp3"],
)
def test_accepts_each_container(format: str, content_type: str) -> None:
    data = encode(np.concatenate([tone(1.0), silence(1.0)]), 16_000, format)
    info = check_audio(data, max_seconds=60, name="a.x")
    assert info.content_type == content_type
    assert info.samplerate == 16_000 and info.channels == 1
    # MP3 encoders pad a few frames; the decoded length is what counts.
    assert info.duration == pytest.approx(2.0, abs=0.08)
    # Loud first half, quiet second half: the peaks show it.
    half = len(info.peaks) // 2
    assert info.peaks[: half - 2, 1].min() > 50
    assert np.abs(info.peaks[half + 3 :]).max() <= 2


def test_peaks_of_a_long_recording_are_capped() -> None:
    info = check_audio(encode(tone(100.0, rate=8000), 8000), max_seconds=1000, name="long.wav")
    assert info.peaks.shape == (PEAKS, 2)
    assert info.peaks.dtype == np.int8


def test_stereo_keeps_the_louder_channel() -> None:
    quiet_left = np.stack([tone(1.0, amplitude=0.01), tone(1.0, amplitude=0.9)], axis=1)
    info = check_audio(encode(quiet_left), max_seconds=10, name="s.wav")
    assert info.channels == 2
    assert info.peaks[:, 1].max() > 100


@pytest.mark.parametrize(
    "data",
    [b"", b"hello, world\n" * 10, b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, b"RIFF\x00\x00\x00\x00AVI LIST"],
    ids=["empty", "text", "png", "avi"],
)
def test_refuses_what_is_not_audio(data: bytes) -> None:
    with pytest.raises(UnsupportedMediaError, match="not a WAV, FLAC, MP3 or OGG") as caught:
        check_audio(data, max_seconds=60, name="clip.wav")
    assert caught.value.file == "clip.wav"


@pytest.mark.parametrize("format", ["FLAC", "OGG"], ids=["flac", "ogg"])
def test_refuses_a_cut_off_file(format: str) -> None:
    data = encode(tone(2.0), 16_000, format)
    with pytest.raises(UnsupportedMediaError, match="damaged") as caught:
        check_audio(data[: len(data) // 2], max_seconds=60, name="cut.x")
    assert caught.value.file == "cut.x"


def test_refuses_garbage_behind_an_id3_tag() -> None:
    with pytest.raises(UnsupportedMediaError, match="damaged"):
        check_audio(b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 4, max_seconds=60, name="x.mp3")


def test_refuses_a_recording_over_the_limit() -> None:
    with pytest.raises(PayloadTooLargeError, match="limit of 5 seconds") as caught:
        check_audio(encode(tone(6.0)), max_seconds=5, name="long.wav")
    assert caught.value.file == "long.wav"


def _wav_header(rate: int, channels: int, data_bytes: int, declared: int | None = None) -> bytes:
    """A PCM WAV header whose data chunk claims ``declared`` bytes (default: what follows)."""
    size = data_bytes if declared is None else declared
    fmt = struct.pack("<HHIIHH", 1, channels, rate, rate * channels * 2, channels * 2, 16)
    return (
        b"RIFF"
        + struct.pack("<I", min(36 + size, 0xFFFFFFFF))
        + b"WAVEfmt "
        + struct.pack("<I", 16)
        + fmt
        + b"data"
        + (struct.pack("<I", size))
    )


@pytest.mark.parametrize(
    ("rate", "channels", "message"),
    [(1_000_000_000, 1, "sample rate"), (8000, 0, "damaged|channels"), (10, 1, "sample rate")],
    ids=["huge-rate", "no-channels", "tiny-rate"],
)
def test_refuses_absurd_headers(rate: int, channels: int, message: str) -> None:
    data = _wav_header(rate, channels, 3200) + b"\x00" * 3200
    with pytest.raises(UnsupportedMediaError, match=message):
        check_audio(data, max_seconds=3600, name="odd.wav")


def test_a_header_claiming_weeks_is_refused_before_decoding() -> None:
    # FLAC's STREAMINFO states the total sample count (36 bits): claim 2^36 - 1 for a 1 s file.
    data = bytearray(encode(tone(1.0), 16_000, "FLAC"))
    fields = int.from_bytes(data[18:26], "big") | ((1 << 36) - 1)
    data[18:26] = fields.to_bytes(8, "big")
    with pytest.raises(PayloadTooLargeError, match=r"\(4,294,967 s\) than the limit of 3,600") as caught:
        check_audio(bytes(data), max_seconds=3600, name="huge.flac")
    assert caught.value.file == "huge.flac"


def test_refuses_a_file_without_samples() -> None:
    with pytest.raises(UnsupportedMediaError, match="no samples"):
        check_audio(_wav_header(8000, 1, 0), max_seconds=60, name="empty.wav")


def test_sniff_names_the_container() -> None:
    assert sniff_audio(encode(tone(0.1), format="FLAC")[:16]) == "FLAC"
    assert sniff_audio(encode(tone(0.1), format="MP3")[:16]) == "MP3"
    assert sniff_audio(b"GIF89a") is None


def test_decode_resamples_and_cuts() -> None:
    data = encode(np.concatenate([tone(1.0, rate=8000), silence(1.0, rate=8000)]), 8000)
    samples, rate = decode_audio(data, samplerate=16_000)
    assert rate == 16_000 and len(samples) == 32_000
    part, _ = decode_audio(data, start=0.5, end=1.5)
    assert len(part) == 8000
    assert np.abs(part[:3000]).max() > 0.4 and np.abs(part[-3000:]).max() < 0.01
