"""Audio the tests make themselves: tones and noise with numpy, speech with Debian's flite."""

from __future__ import annotations

import io
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from numpy.typing import NDArray

from hitloop.formats.audio import decode_audio
from hitloop.ml.recognizer import SAMPLERATE, PocketSphinxRecognizer

SUBTYPES = {"WAV": "PCM_16", "FLAC": "PCM_16", "OGG": "VORBIS", "MP3": "MPEG_LAYER_III"}


def tone(
    seconds: float, freq: float = 440.0, rate: int = 16_000, amplitude: float = 0.5
) -> NDArray[np.float32]:
    t = np.arange(int(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def silence(seconds: float, rate: int = 16_000, level: float = 0.001, seed: int = 0) -> NDArray[np.float32]:
    """Faint noise: real pauses are never digital zero."""
    return (np.random.default_rng(seed).standard_normal(int(seconds * rate)) * level).astype(np.float32)


def encode(samples: NDArray[np.float32], rate: int = 16_000, format: str = "WAV") -> bytes:
    out = io.BytesIO()
    sf.write(out, samples, rate, format=format, subtype=SUBTYPES[format])
    return out.getvalue()


def speak(text: str, path: Path) -> Path:
    """Synthesize ``text`` with flite's "slt" voice (16 kHz WAV), which PocketSphinx understands well."""
    flite = shutil.which("flite")
    if flite is None:
        pytest.fail("flite is not installed (apt-get install flite; .ci/run does)")
    subprocess.run([flite, "-voice", "slt", "-t", text, "-o", str(path)], check=True, capture_output=True)
    return path


SPOKEN = "Please call Stella. Ask her to bring these things with her from the store."
"""What the speech tests have flite say."""
SENTENCE = "please call stella ask her to bring these things with her from the store"
"""The words of :data:`SPOKEN` as a transcript (lower case, no punctuation)."""


@pytest.fixture(scope="module")
def voice(tmp_path_factory: pytest.TempPathFactory) -> NDArray[np.float32]:
    """:data:`SPOKEN` in flite's voice, decoded at the recognizer's rate (bind into a test module to use)."""
    path = speak(SPOKEN, tmp_path_factory.mktemp("voice") / "stella.wav")
    samples, _ = decode_audio(path, samplerate=SAMPLERATE)
    return samples


@pytest.fixture(scope="module")
def recognizer() -> PocketSphinxRecognizer:
    """A PocketSphinx recognizer, loaded once per module (bind into a test module to use)."""
    return PocketSphinxRecognizer()
