from __future__ import annotations

import io
import struct
import warnings
import zlib

import numpy as np
import pytest
from PIL import Image

from hitloop.errors import PayloadTooLargeError, UnsupportedMediaError
from hitloop.formats import ImageInfo, check_image

LIMIT = 10_000_000


def _encode(image: Image.Image, fmt: str) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


def _noise(width: int, height: int) -> Image.Image:
    pixels = np.random.default_rng(0).integers(0, 256, size=(height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _bomb_png(width: int, height: int) -> bytes:
    """A valid-looking PNG header declaring ``width`` x ``height`` grey pixels, with almost no data."""
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = zlib.compress(b"\x00" * 1024)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", data) + _chunk(b"IEND", b"")


@pytest.mark.parametrize(
    ("fmt", "content_type"),
    [
        pytest.param("PNG", "image/png", id="png"),
        pytest.param("JPEG", "image/jpeg", id="jpeg"),
        pytest.param("GIF", "image/gif", id="gif"),
        pytest.param("BMP", "image/bmp", id="bmp"),
        pytest.param("WEBP", "image/webp", id="webp"),
        pytest.param("TIFF", "image/tiff", id="tiff"),
    ],
)
def test_allowed_formats(fmt: str, content_type: str) -> None:
    data = _encode(_noise(32, 20), fmt)
    assert check_image(data, max_pixels=LIMIT, name="a") == ImageInfo(content_type, 32, 20, fmt)


def test_camera_jpeg_with_previews_counts_as_jpeg() -> None:
    buffer = io.BytesIO()
    _noise(8, 8).save(buffer, format="MPO", save_all=True, append_images=[_noise(4, 4)])
    info = check_image(buffer.getvalue(), max_pixels=LIMIT, name="camera.jpg")
    assert info == ImageInfo("image/jpeg", 8, 8, "JPEG")


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"hello, I am a text file renamed to .png\n", id="text-renamed-png"),
        pytest.param(b"", id="empty"),
        pytest.param(_encode(_noise(8, 8), "PPM"), id="ppm-not-allowed"),
        pytest.param(_encode(_noise(16, 16), "ICO"), id="ico-not-allowed"),
    ],
)
def test_not_an_allowed_image(data: bytes) -> None:
    with pytest.raises(UnsupportedMediaError, match="not a PNG, JPEG") as caught:
        check_image(data, max_pixels=LIMIT, name="photo.png")
    assert caught.value.file == "photo.png"


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_image_is_damaged(fmt: str) -> None:
    data = _encode(_noise(64, 64), fmt)
    with pytest.raises(UnsupportedMediaError, match="damaged") as caught:
        check_image(data[: len(data) // 2], max_pixels=LIMIT, name="cut")
    assert caught.value.file == "cut"


def test_more_pixels_than_the_limit() -> None:
    data = _encode(_noise(20, 20), "PNG")
    with pytest.raises(PayloadTooLargeError, match="20x20 = 400 pixels") as caught:
        check_image(data, max_pixels=399, name="big.png")
    assert caught.value.file == "big.png"
    assert check_image(data, max_pixels=400, name="big.png").width == 20


def test_bomb_is_refused_from_its_header() -> None:
    # Below Pillow's own guard (about 89 million pixels), above ours.
    data = _bomb_png(5_000, 5_000)
    assert len(data) < 200
    with pytest.raises(PayloadTooLargeError, match="5000x5000") as caught:
        check_image(data, max_pixels=LIMIT, name="bomb.png")
    assert caught.value.file == "bomb.png"


@pytest.mark.parametrize(
    "size",
    [
        pytest.param((100_000, 100_000), id="over-pillow-error-limit"),
        pytest.param((10_000, 10_000), id="over-pillow-warning-limit"),
    ],
)
def test_pillow_bomb_guard_is_a_refusal_too(size: tuple[int, int]) -> None:
    # Our limit is generous here, so Pillow's own guard is what trips.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        with pytest.raises(PayloadTooLargeError, match="decode safely") as caught:
            check_image(_bomb_png(*size), max_pixels=10**12, name="bomb.png")
    assert caught.value.file == "bomb.png"
