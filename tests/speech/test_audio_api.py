"""Audio over HTTP: upload, serving with byte ranges, the player's data, transcribe values."""

from __future__ import annotations

import numpy as np
import pytest

from hitloop.api.context import AppContext
from tests.sounds import encode, silence, tone


def _project(api, task: str = "classify", **extra) -> dict:  # type: ignore[no-untyped-def]
    body = {"name": "calls", "modality": "audio", "task": task, "labels": ["yes", "no"], **extra}
    r = api.post("/api/projects", json=body)
    assert r.status_code == 201, r.text
    return r.json()


def _upload(api, project_id: int, *files: tuple[str, bytes]):  # type: ignore[no-untyped-def]
    return api.post(
        f"/api/projects/{project_id}/audio",
        files=[("files", (n, d, "application/octet-stream")) for n, d in files],
    )


@pytest.fixture
def clip() -> bytes:
    return encode(np.concatenate([tone(0.5), silence(0.5)]), format="MP3")


def test_upload_and_serve_with_ranges(api, clip: bytes) -> None:  # type: ignore[no-untyped-def]
    p = _project(api)
    r = _upload(api, p["id"], ("../../hi.mp3", clip))
    assert r.status_code == 201, r.text
    (item_id,) = r.json()["item_ids"]
    item = api.get(f"/api/items/{item_id}").json()
    assert item["meta"] == {"filename": "hi.mp3"}

    whole = api.get(item["media_url"])
    assert whole.status_code == 200 and whole.content == clip
    assert whole.headers["content-type"] == "audio/mpeg"
    assert whole.headers["accept-ranges"] == "bytes"
    n = len(clip)

    first = api.get(item["media_url"], headers={"Range": "bytes=0-99"})
    assert first.status_code == 206
    assert first.headers["content-range"] == f"bytes 0-99/{n}"
    assert first.content == clip[:100]

    tail = api.get(item["media_url"], headers={"Range": "bytes=-10"})
    assert tail.status_code == 206 and tail.content == clip[-10:]

    rest = api.get(item["media_url"], headers={"Range": f"bytes={n - 5}-"})
    assert rest.status_code == 206 and rest.content == clip[-5:]
    assert rest.headers["content-range"] == f"bytes {n - 5}-{n - 1}/{n}"

    past = api.get(item["media_url"], headers={"Range": f"bytes={n + 10}-"})
    assert past.status_code == 416
    assert past.headers["content-range"] == f"bytes */{n}"

    cached = api.get(item["media_url"], headers={"If-None-Match": whole.headers["etag"]})
    assert cached.status_code == 304


def test_player_data(api, clip: bytes) -> None:  # type: ignore[no-untyped-def]
    p = _project(api)
    (item_id,) = _upload(api, p["id"], ("a.mp3", clip)).json()["item_ids"]
    info = api.get(f"/api/items/{item_id}/audio").json()
    assert info["duration"] == pytest.approx(1.0, abs=0.08)
    assert info["draft"] is None
    peaks = np.array(info["peaks"])
    assert peaks.shape == (50, 2)
    assert peaks[:20, 1].min() > 40 and np.abs(peaks[30:]).max() <= 2


def test_player_data_for_an_image_is_404(api) -> None:  # type: ignore[no-untyped-def]
    p = api.post("/api/projects", json={"name": "t", "labels": ["a"]}).json()
    api.post(f"/api/projects/{p['id']}/items", json={"items": [{"text": "x"}]})
    r = api.get("/api/items/1/audio")
    assert r.status_code == 404 and r.json()["error"]["field"] == "item_id"


def test_non_audio_is_refused_and_nothing_stored(api, ctx: AppContext, clip: bytes) -> None:  # type: ignore[no-untyped-def]
    p = _project(api)
    r = _upload(api, p["id"], ("good.mp3", clip), ("notes.wav", b"just some text, not audio"))
    assert r.status_code == 415
    assert r.json()["error"]["file"] == "notes.wav"
    # Every file is checked before the first is stored: nothing went in.
    assert api.get(f"/api/projects/{p['id']}").json()["stats"]["total"] == 0
    assert not ctx.media.root.exists() or not any(f.is_file() for f in ctx.media.root.rglob("*"))


def test_too_long_is_refused(api, ctx: AppContext) -> None:  # type: ignore[no-untyped-def]
    ctx.settings = ctx.settings.model_copy(update={"max_audio_seconds": 2.0})
    p = _project(api)
    r = _upload(api, p["id"], ("long.wav", encode(tone(3.0))))
    assert r.status_code == 413
    assert r.json()["error"]["file"] == "long.wav"
    assert api.get(f"/api/projects/{p['id']}").json()["stats"]["total"] == 0
    assert not ctx.media.root.exists() or not any(ctx.media.root.rglob("*"))


def test_audio_needs_an_audio_project(api, clip: bytes) -> None:  # type: ignore[no-untyped-def]
    p = api.post("/api/projects", json={"name": "t", "labels": ["a"], "modality": "image"}).json()
    r = _upload(api, p["id"], ("a.mp3", clip))
    assert r.status_code == 422 and r.json()["error"]["field"] == "file"


def test_transcribe_projects(api, clip: bytes) -> None:  # type: ignore[no-untyped-def]
    r = api.post("/api/projects", json={"name": "t", "task": "transcribe", "labels": []})
    assert r.status_code == 422 and r.json()["error"]["field"] == "modality"
    p = _project(api, task="transcribe", labels=[])
    assert p["labels"] == []
    (item_id,) = _upload(api, p["id"], ("a.mp3", clip)).json()["item_ids"]
    api.post(f"/api/projects/{p['id']}/next", json={"count": 1})
    bad = api.post(
        f"/api/items/{item_id}/annotations", json={"value": {"label": "x"}, "client_key": "k" * 10}
    )
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "value"
    ok = api.post(
        f"/api/items/{item_id}/annotations",
        json={"value": {"text": "  hello   there "}, "client_key": "k" * 11},
    )
    assert ok.status_code == 201, ok.text
    assert ok.json()["value"] == {"text": "hello there"}
    stats = api.get(f"/api/projects/{p['id']}/transcripts").json()
    assert stats["transcripts"] == 0 and stats["wer"] is None  # no draft was shown


def test_export_keeps_segment_timings(api, clip: bytes) -> None:  # type: ignore[no-untyped-def]
    import json

    p = _project(api, task="transcribe", labels=[])
    (item_id,) = _upload(api, p["id"], ("call.mp3", clip)).json()["item_ids"]
    api.post(f"/api/projects/{p['id']}/next", json={"count": 1})
    value = {
        "text": "hello there",
        "segments": [
            {"start": 0.0, "end": 0.4, "text": "hello"},
            {"start": 0.5, "end": 0.9, "text": "there"},
        ],
    }
    r = api.post(f"/api/items/{item_id}/annotations", json={"value": value, "client_key": "segments-01"})
    assert r.status_code == 201, r.text
    export = api.get(f"/api/projects/{p['id']}/export", params={"format": "jsonl"})
    assert export.status_code == 200
    (row,) = [json.loads(line) for line in export.text.splitlines()]
    assert row["value"] == value


def test_an_upload_decodes_each_recording_once(api, clip: bytes, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    # The route checks every file before storing any; the service must reuse that check,
    # not decode again. A spy around the real decoder counts the passes.
    import hitloop.api.routes.projects as route
    import hitloop.formats.audio as formats

    real = formats.check_audio
    names: list[str] = []

    def spy(data: bytes, **kwargs):  # type: ignore[no-untyped-def]
        names.append(kwargs["name"])
        return real(data, **kwargs)

    monkeypatch.setattr(route, "check_audio", spy)
    monkeypatch.setattr(formats, "check_audio", spy)
    p = _project(api)
    longer = encode(np.concatenate([tone(1.0), silence(0.25)]), format="WAV")
    r = _upload(api, p["id"], ("a.mp3", clip), ("b.wav", longer))
    assert r.status_code == 201, r.text
    assert sorted(names) == ["a.mp3", "b.wav"]
    durations = [api.get(f"/api/items/{i}/audio").json()["duration"] for i in r.json()["item_ids"]]
    assert durations == pytest.approx([1.0, 1.25], abs=0.06)


@pytest.mark.parametrize(("modality", "upload"), [("audio", "recordings"), ("image", "images")])
def test_a_file_import_into_a_media_project_says_what_it_holds(api, modality: str, upload: str) -> None:  # type: ignore[no-untyped-def]
    # The import route reads text rows; a path in a row would name a file on the server.
    p = api.post("/api/projects", json={"name": "c", "modality": modality, "labels": ["a", "b"]}).json()
    for body in (b'{"text": "hello"}\n', b'{"audio": "/etc/hostname"}\n'):
        r = api.post(f"/api/projects/{p['id']}/import", files={"file": ("calls.jsonl", body)})
        assert r.status_code == 422
        error = r.json()["error"]
        assert (error["file"], error["line"], error["field"]) == ("calls.jsonl", None, "file")
        assert error["message"].startswith(
            f"project {p['id']} holds {modality} items; a file import adds text"
        )
        assert f"upload {upload} to /api/projects/{p['id']}/" in error["message"]
        if modality == "audio":
            assert "image" not in error["message"]
    assert api.get(f"/api/projects/{p['id']}").json()["stats"]["total"] == 0
