"""Check uploaded or imported image bytes before they are stored or served."""

from __future__ import annotations

import io
import struct
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

from hitloop.errors import PayloadTooLargeError, UnsupportedMediaError

__all__ = ["CONTENT_TYPES", "ImageInfo", "check_image"]

# Pillow format name -> content type. The JPEG opener also returns "MPO", a
# JPEG with extra preview pictures (common from cameras); it counts as JPEG.
CONTENT_TYPES: dict[str, str] = {
    "PNG": "image/png",
    "JPEG": "image/jpeg",
    "GIF": "image/gif",
    "BMP": "image/bmp",
    "WEBP": "image/webp",
    "TIFF": "image/tiff",
}
_OPENERS = tuple(CONTENT_TYPES)
_ALLOWED = "PNG, JPEG, GIF, BMP, WEBP or TIFF"
# What Pillow raises on damaged input; anything else is a bug and propagates.
_DAMAGED = (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError, struct.error)


@dataclass(frozen=True, slots=True)
class ImageInfo:
    """What :func:`check_image` learned: ``format`` is one of :data:`CONTENT_TYPES`."""

    content_type: str
    width: int
    height: int
    format: str


def check_image(data: bytes, *, max_pixels: int, name: str) -> ImageInfo:
    """Return the image's type and size, or refuse it.

    Only the formats of :data:`CONTENT_TYPES` are tried, so Pillow never parses
    anything else. The pixel count is read from the header and checked before
    any pixel is decoded; Pillow's own decompression-bomb guard counts as a
    refusal too. Then the image is verified and its first frame decoded, which
    catches truncated and corrupt files.

    Raises
    ------
    UnsupportedMediaError
        The bytes are not an image of an allowed format, or are damaged.
    PayloadTooLargeError
        The image has more than ``max_pixels`` pixels.
    """
    try:
        with Image.open(io.BytesIO(data), formats=_OPENERS) as image:
            width, height = image.size
            kind = "JPEG" if image.format == "MPO" else str(image.format)
            _check_pixels(width, height, max_pixels, name)
            image.verify()
        # verify() leaves the image unusable; decoding needs a fresh open.
        with Image.open(io.BytesIO(data), formats=_OPENERS) as image:
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        # The warning arrives here only when warnings are errors (as in tests).
        raise _too_large(name, None, max_pixels) from None
    except UnidentifiedImageError:
        raise UnsupportedMediaError(f"not a {_ALLOWED} image", file=name) from None
    except _DAMAGED as exc:
        raise UnsupportedMediaError(f"the image is damaged: {exc}", file=name) from None
    return ImageInfo(content_type=CONTENT_TYPES[kind], width=width, height=height, format=kind)


def _check_pixels(width: int, height: int, max_pixels: int, name: str) -> None:
    if width <= 0 or height <= 0:
        raise UnsupportedMediaError(f"the image has no pixels ({width}x{height})", file=name)
    if width * height > max_pixels:
        raise _too_large(name, (width, height), max_pixels)


def _too_large(name: str, size: tuple[int, int] | None, max_pixels: int) -> PayloadTooLargeError:
    if size is None:
        message = f"the image declares too many pixels to decode safely (limit {max_pixels:,})"
    else:
        width, height = size
        pixels = width * height
        message = f"the image has {width}x{height} = {pixels:,} pixels, more than the limit of {max_pixels:,}"
    return PayloadTooLargeError(message, file=name)
