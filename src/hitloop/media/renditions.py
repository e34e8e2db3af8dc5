"""Files derived from a stored image, cached beside the store by its SHA-256.

- a **thumbnail**: a small JPEG (PNG when the image has transparency) for project pages;
- a **view**: what a browser can show for an image it cannot draw as stored, namely
  TIFF (no browser decodes it) and 16-bit grayscale (medical scans), rendered to
  8 bits with a window that spans the 0.5th to 99.5th percentile of the pixels;
- the **samples** of a 16-bit grayscale image, raw little-endian ``uint16``, for
  window/level adjustment in the browser.

A derived file is written once, to a temporary name and renamed, so concurrent
requests never see half a file. Paths come from the hash alone.
"""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from hitloop.media.store import MediaStore

__all__ = ["WIDE_MODES", "GrayInfo", "gray_samples", "needs_view", "thumbnail", "view"]

# Pillow modes holding more than 8 bits per sample.
WIDE_MODES = frozenset({"I;16", "I;16B", "I;16L", "I;16N", "I", "F"})
_BROWSER_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp", "image/bmp"})


def _derived(store: MediaStore, sha256: str, suffix: str) -> Path:
    store.path_for(sha256)  # checks the hash's shape
    return store.root / "derived" / sha256[:2] / f"{sha256}.{suffix}"


def _write_once(path: Path, data: bytes) -> Path:
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _open(store: MediaStore, sha256: str) -> Image.Image:
    image = Image.open(store.path_for(sha256))
    image.load()
    return image


def _to_8bit(image: Image.Image) -> Image.Image:
    """Wide grayscale to 8 bits through a percentile window; anything else to RGB(A) or L."""
    if image.mode in WIDE_MODES:
        pixels = np.asarray(image, dtype=np.float64)
        low, high = np.percentile(pixels, [0.5, 99.5]) if pixels.size else (0.0, 1.0)
        if high <= low:
            high = low + 1.0
        scaled = np.clip((pixels - low) * (255.0 / (high - low)), 0, 255)
        return Image.fromarray(np.rint(scaled).astype(np.uint8), mode="L")
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        return image.convert("RGBA")
    return image.convert("L" if image.mode in ("L", "1") else "RGB")


def thumbnail(store: MediaStore, sha256: str, *, size: int = 256) -> tuple[Path, str]:
    """(path, content type) of the image's thumbnail, at most ``size`` pixels on a side."""
    for suffix, kind in ((f"thumb{size}.jpg", "image/jpeg"), (f"thumb{size}.png", "image/png")):
        path = _derived(store, sha256, suffix)
        if path.exists():
            return path, kind
    with Image.open(store.path_for(sha256)) as original:
        # JPEG decodes straight to a 1/2, 1/4 or 1/8 scale: a 4000x3000 photo costs a fraction.
        original.draft("RGB", (size, size))
        original.load()
        image = _to_8bit(original)
    image.thumbnail((size, size), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    if image.mode == "RGBA":
        image.save(out, "PNG", optimize=True)
        return _write_once(_derived(store, sha256, f"thumb{size}.png"), out.getvalue()), "image/png"
    image.save(out, "JPEG", quality=82, optimize=True)
    return _write_once(_derived(store, sha256, f"thumb{size}.jpg"), out.getvalue()), "image/jpeg"


def needs_view(store: MediaStore, sha256: str, content_type: str) -> bool:
    """True when a browser cannot show the stored file as it is (TIFF, or wide grayscale PNG)."""
    if content_type not in _BROWSER_TYPES:
        return True
    if content_type != "image/png":
        return False
    with Image.open(store.path_for(sha256)) as image:  # reads the header only
        return image.mode in WIDE_MODES


def view(store: MediaStore, sha256: str) -> Path:
    """An 8-bit PNG rendering of the image, for the viewer."""
    path = _derived(store, sha256, "view.png")
    if path.exists():
        return path
    with _open(store, sha256) as original:
        image = _to_8bit(original)
    out = io.BytesIO()
    image.save(out, "PNG")
    return _write_once(path, out.getvalue())


@dataclass(frozen=True, slots=True)
class GrayInfo:
    """Shape and range of a wide grayscale image's samples."""

    width: int
    height: int
    low: int
    high: int


def gray_samples(store: MediaStore, sha256: str) -> tuple[Path, GrayInfo] | None:
    """Raw little-endian ``uint16`` samples (row-major) of a wide grayscale image; None otherwise.

    Signed or float images are shifted and clipped into 0..65535.
    """
    with _open(store, sha256) as image:
        if image.mode not in WIDE_MODES:
            return None
        pixels = np.asarray(image)
    if pixels.dtype != np.uint16:
        pixels = np.clip(np.rint(pixels.astype(np.float64) - min(0.0, float(pixels.min()))), 0, 65535)
        pixels = pixels.astype(np.uint16)
    info = GrayInfo(
        width=int(pixels.shape[1]), height=int(pixels.shape[0]), low=int(pixels.min()), high=int(pixels.max())
    )
    path = _derived(store, sha256, "u16le")
    if not path.exists():
        _write_once(path, pixels.astype("<u2").tobytes())
    return path, info
