"""Files derived from a stored recording: the waveform peaks the player draws.

Peaks sit beside the recording as ``<sha256>.peaks``: raw int8 pairs (low,
high) per slice, written once at import (the recording is decoded then
anyway), so the browser draws a 60-minute waveform from a few kilobytes and
never decodes the whole file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from hitloop.media.store import MediaStore

__all__ = ["peaks_path", "read_peaks", "write_peaks"]


def peaks_path(store: MediaStore, sha256: str) -> Path:
    path = store.path_for(sha256)
    return path.with_name(f"{path.name}.peaks")


def write_peaks(store: MediaStore, sha256: str, peaks: NDArray[np.int8]) -> None:
    """Store the (n, 2) peaks of a recording (atomically; a second write is a no-op)."""
    path = peaks_path(store, sha256)
    if path.exists():
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(np.ascontiguousarray(peaks, dtype=np.int8).tobytes())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def read_peaks(store: MediaStore, sha256: str) -> NDArray[np.int8] | None:
    """The (n, 2) peaks written by :func:`write_peaks`, or None if there are none."""
    path = peaks_path(store, sha256)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    return np.frombuffer(data, dtype=np.int8).reshape(-1, 2)
