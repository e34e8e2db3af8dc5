"""Hostile uploads: each is refused with a precise 4xx and leaves no item, media row or file behind."""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select

from hitloop.api.context import AppContext
from hitloop.db.tables import Item, Media


def _png(width: int = 4, height: int = 4) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (width, height), (200, 30, 30)).save(buf, format="PNG")
    return buf.getvalue()


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny real PNG whose header declares ``width`` x ``height`` pixels (a decompression bomb)."""
    data = bytearray(_png(1, 1))
    ihdr = 8  # after the signature: length (4), b"IHDR" (4), then width and height
    struct.pack_into(">II", data, ihdr + 8, width, height)
    crc = zlib.crc32(bytes(data[ihdr + 4 : ihdr + 8 + 13]))
    struct.pack_into(">I", data, ihdr + 8 + 13, crc)
    return bytes(data)


def _gif_claiming(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("P", (1, 1)).save(buf, format="GIF")
    data = bytearray(buf.getvalue())
    struct.pack_into("<HH", data, 6, width, height)  # the logical screen
    i = data.index(b"\x2c")  # the image descriptor: left, top, width, height
    struct.pack_into("<HH", data, i + 5, width, height)
    return bytes(data)


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("../../evil.png", _png())
    return buf.getvalue()


SVG = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><script>alert(2)</script></svg>'
HTML_AS_PNG = b"<!doctype html><script>alert(1)</script>"


@pytest.fixture
def image_project(api: Any) -> int:
    r = api.post("/api/projects", json={"name": "imgs", "modality": "image", "labels": ["a", "b"]})
    assert r.status_code == 201
    return int(r.json()["id"])


@pytest.fixture
def text_project(api: Any) -> int:
    r = api.post("/api/projects", json={"name": "texts", "labels": ["a", "b"]})
    assert r.status_code == 201
    return int(r.json()["id"])


def _files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def assert_nothing_stored(ctx: AppContext) -> None:
    with ctx.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Item)) == 0
        assert s.scalar(select(func.count()).select_from(Media)) == 0
    assert _files(ctx.settings.media_dir) == []


@pytest.mark.parametrize(
    ("name", "data", "content_type", "status", "code"),
    [
        ("bomb.png", _png_claiming(100_000, 100_000), "image/png", 413, "too_large"),
        ("bomb.gif", _gif_claiming(65_535, 65_535), "image/gif", 413, "too_large"),
        ("page.png", HTML_AS_PNG, "image/png", 415, "unsupported_media"),
        ("drawing.svg", SVG, "image/svg+xml", 415, "unsupported_media"),
        ("archive.png", _zip(), "image/png", 415, "unsupported_media"),
        ("truncated.png", _png(64, 64)[:60], "image/png", 415, "unsupported_media"),
        ("empty.png", b"", "image/png", 415, "unsupported_media"),
    ],
    ids=["png-bomb", "gif-bomb", "html-as-png", "svg-script", "zip", "truncated", "empty"],
)
def test_hostile_image_is_refused_and_nothing_is_stored(
    api: Any,
    ctx: AppContext,
    image_project: int,
    name: str,
    data: bytes,
    content_type: str,
    status: int,
    code: str,
) -> None:
    r = api.post(f"/api/projects/{image_project}/images", files=[("files", (name, data, content_type))])
    assert r.status_code == status, r.text
    error = r.json()["error"]
    assert error["code"] == code
    assert error["file"] == name
    assert_nothing_stored(ctx)


def test_one_bad_file_refuses_the_whole_upload(api: Any, ctx: AppContext, image_project: int) -> None:
    files = [
        ("files", ("good.png", _png(), "image/png")),
        ("files", ("bomb.png", _png_claiming(100_000, 100_000), "image/png")),
    ]
    r = api.post(f"/api/projects/{image_project}/images", files=files)
    assert r.status_code == 413, r.text
    assert r.json()["error"]["file"] == "bomb.png"
    assert_nothing_stored(ctx)


@pytest.mark.parametrize(
    "name",
    [
        "../../../../tmp/evil.png",
        "..\\..\\evil.png",
        "/etc/passwd",
        "a/../../b.png",
        "\u202egnp.exe",
        "....//x.png",
    ],
    ids=["dotdot", "backslash", "absolute", "nested", "rtl-override", "dots"],
)
def test_path_traversal_names_are_only_metadata(
    api: Any, ctx: AppContext, image_project: int, tmp_path: Path, name: str
) -> None:
    before = set(_files(tmp_path.parent))
    r = api.post(f"/api/projects/{image_project}/images", files=[("files", (name, _png(), "image/png"))])
    assert r.status_code == 201, r.text
    stored = _files(ctx.settings.media_dir)
    assert len(stored) == 1
    # The one new file is the content-addressed copy; the name went nowhere else on disk.
    assert set(_files(tmp_path.parent)) - before == set(stored)
    assert stored[0].parent.parent.parent == ctx.settings.media_dir
    item = api.get(f"/api/items/{r.json()['item_ids'][0]}").json()
    assert "/" not in item["meta"]["filename"]


def test_oversize_body_is_refused_before_it_is_read(api: Any, ctx: AppContext, image_project: int) -> None:
    limit = ctx.settings.max_upload_bytes
    r = api.post(
        f"/api/projects/{image_project}/images",
        content=b"x" * 16,
        headers={"Content-Length": str(limit + 1), "Content-Type": "multipart/form-data; boundary=b"},
    )
    assert r.status_code == 413
    assert r.json()["error"]["code"] == "too_large"
    assert_nothing_stored(ctx)


def test_streamed_body_past_the_limit_is_413(api: Any, ctx: AppContext, text_project: int) -> None:
    """No Content-Length (chunked): the limit is enforced while the body streams in."""
    limit = ctx.settings.max_upload_bytes
    boundary = "hitloopboundary"

    def chunks() -> Any:
        yield (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.jsonl"\r\n'
            "Content-Type: application/x-ndjson\r\n\r\n"
        ).encode()
        piece = b'{"text": "' + b"y" * 1_000_000 + b'"}\n'
        for _ in range(limit // len(piece) + 2):
            yield piece
        yield f"\r\n--{boundary}--\r\n".encode()

    r = api.post(
        f"/api/projects/{text_project}/import",
        content=chunks(),
        headers={"Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert r.status_code == 413, r.text[:300]
    assert r.json()["error"]["code"] == "too_large"
    assert_nothing_stored(ctx)


@pytest.mark.parametrize(
    ("name", "data", "code", "field"),
    [
        ("data.jsonl", b"\x89PNG\r\n\x1a\n\x00\x00binary", "invalid_input", None),
        ("data.jsonl", b'{"text": "ok"}\n{"text": "nul \\u0000 inside"}\n', "invalid_input", None),
        ("data.exe", b"MZ\x90\x00", "invalid_input", None),
        ("../../data.jsonl", b'{"text": 5}\n', "invalid_input", "text"),
        ("data.csv", b"\xff\xfe\x00t\x00e\x00x\x00t", "invalid_input", None),
    ],
    ids=["binary-as-jsonl", "nul-in-text", "unknown-extension", "traversal-name", "utf16-csv"],
)
def test_bad_import_files_are_refused_whole(
    api: Any, ctx: AppContext, text_project: int, name: str, data: bytes, code: str, field: str | None
) -> None:
    r = api.post(
        f"/api/projects/{text_project}/import", files={"file": (name, data, "application/octet-stream")}
    )
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == code
    assert error["file"] == Path(name.replace("\\", "/")).name
    if field is not None:
        assert error["field"] == field
    assert_nothing_stored(ctx)


def test_json_body_to_an_upload_route_is_422(api: Any, ctx: AppContext, image_project: int) -> None:
    r = api.post(f"/api/projects/{image_project}/images", json={"files": ["x"]})
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_input"
    assert_nothing_stored(ctx)


# ---- audio -------------------------------------------------------------------


def _wav(seconds: float = 0.1, rate: int = 8000, channels: int = 1) -> bytes:
    import wave

    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(b"\x00\x01" * int(seconds * rate) * channels)
    return buf.getvalue()


def _wav_header(*, rate: int = 8000, channels: int = 1, data_bytes: int | None = None) -> bytes:
    """A real WAV whose header is rewritten: sample rate, channel count, data size."""
    data = bytearray(_wav())
    struct.pack_into("<H", data, 22, channels)
    struct.pack_into("<I", data, 24, rate)
    struct.pack_into("<I", data, 28, rate * channels * 2)
    struct.pack_into("<H", data, 32, channels * 2)
    if data_bytes is not None:
        struct.pack_into("<I", data, 4, min(data_bytes + 36, 0xFFFFFFFF))
        struct.pack_into("<I", data, 40, data_bytes)
    return bytes(data)


@pytest.fixture
def audio_project(api: Any) -> int:
    r = api.post("/api/projects", json={"name": "sounds", "modality": "audio", "labels": ["a", "b"]})
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


@pytest.mark.parametrize(
    ("name", "data", "status"),
    [
        ("huge-rate.wav", _wav_header(rate=2_000_000_000), 415),
        ("many-channels.wav", _wav_header(channels=30_000), 415),
        ("text.wav", b"RIFF....WAVEfmt this is not audio at all", 415),
        ("page.mp3", HTML_AS_PNG, 415),
        ("image.ogg", _png(), 415),
        ("empty.flac", b"", 415),
    ],
    ids=["rate", "channels", "fake-riff", "html", "png", "empty"],
)
def test_hostile_audio_is_refused_and_nothing_is_stored(
    api: Any, ctx: AppContext, audio_project: int, name: str, data: bytes, status: int
) -> None:
    r = api.post(f"/api/projects/{audio_project}/audio", files=[("files", (name, data, "audio/wav"))])
    assert r.status_code == status, r.text
    assert r.json()["error"]["file"] == name
    assert_nothing_stored(ctx)


def test_one_bad_recording_refuses_the_whole_audio_upload(
    api: Any, ctx: AppContext, audio_project: int
) -> None:
    files = [("files", ("good.wav", _wav(), "audio/wav")), ("files", ("bad.wav", b"RIFF junk", "audio/wav"))]
    r = api.post(f"/api/projects/{audio_project}/audio", files=files)
    assert r.status_code == 415, r.text
    assert r.json()["error"]["file"] == "bad.wav"
    assert_nothing_stored(ctx)


def test_a_header_that_lies_about_its_length_reads_only_what_is_there(
    api: Any, ctx: AppContext, audio_project: int
) -> None:
    """A WAV declaring 4 GB of samples is decoded from the bytes it has, never allocated as declared."""
    data = _wav_header(data_bytes=0xFFFFFFF0)
    r = api.post(f"/api/projects/{audio_project}/audio", files=[("files", ("liar.wav", data, "audio/wav"))])
    assert r.status_code == 201, r.text
    with ctx.db.read() as s:
        media = s.scalars(select(Media)).one()
    assert media.size == len(data) and media.duration is not None and media.duration < 1.0
