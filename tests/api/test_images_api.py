"""Images over HTTP: boxes quality and COCO export, the faces job, thumbnails, 16-bit images."""

from __future__ import annotations

import io
import struct
import sys
import time
import zlib
from typing import Any

import numpy as np
import pytest
from PIL import Image

from hitloop.api.context import AppContext
from hitloop.jobs import records
from hitloop.schemas import JobOut

skimage_data = pytest.importorskip("skimage.data")


def encode(image: Image.Image, fmt: str = "PNG") -> bytes:
    out = io.BytesIO()
    image.save(out, fmt)
    return out.getvalue()


def gradient16(width: int = 64, height: int = 48) -> np.ndarray:
    """A 16-bit ramp from 1000 to 3000, like a CT slice's useful range."""
    ramp = np.linspace(1000, 3000, width * height).reshape(height, width)
    return np.rint(ramp).astype(np.uint16)


def upload(api: Any, project: int, name: str, data: bytes, content_type: str = "image/png") -> int:
    r = api.post(f"/api/projects/{project}/images", files=[("files", (name, data, content_type))])
    assert r.status_code == 201, r.text
    return int(r.json()["item_ids"][0])


def boxes_project(api: Any, labels: list[str] | None = None) -> int:
    body = {"name": "b", "task": "boxes", "modality": "image", "labels": labels or ["face"]}
    r = api.post("/api/projects", json=body)
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def wait(ctx: AppContext, job_id: int, timeout: float = 30.0) -> JobOut:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = records.get(ctx.db, job_id)
        if job.state in ("done", "failed", "cancelled"):
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} did not end")


def test_faces_job_then_answer_then_quality_and_coco(api: Any, ctx: AppContext) -> None:
    project = boxes_project(api)
    item = upload(api, project, "astronaut.png", encode(Image.fromarray(skimage_data.astronaut())))
    # The server's job runner (started with the app) does the work.
    job = wait(ctx, records.create(ctx.db, "faces", project_id=project).id)
    assert job.state == "done", job
    assert job.result is not None and (job.result["items"], job.result["boxes"]) == (1, 1)

    [served] = api.post(f"/api/projects/{project}/next", json={"count": 1}).json()["items"]
    assert served["id"] == item
    [box] = served["suggestion"]["value"]["boxes"]
    # The person keeps the suggested face as it is.
    r = api.post(
        f"/api/items/{item}/annotations", json={"value": {"boxes": [box]}, "client_key": "keep-face-1"}
    )
    assert r.status_code == 201, r.text

    quality = api.get(f"/api/projects/{project}/boxes/quality").json()
    assert quality["edits"] == {"kept": 1, "moved": 0, "deleted": 0, "added": 0}
    assert quality["suggestions"]["precision"] == 1.0 and quality["suggestions"]["recall"] == 1.0
    assert api.get(f"/api/projects/{project}/boxes/quality?iou=0").status_code == 422

    coco = api.get(f"/api/projects/{project}/coco").json()
    assert coco["images"][0]["width"] == 512 and len(coco["annotations"]) == 1


def test_box_answers_outside_the_image_are_422(api: Any) -> None:
    project = boxes_project(api)
    item = upload(api, project, "a.png", encode(Image.new("RGB", (100, 50))))
    value = {"boxes": [{"x": 90, "y": 0, "w": 20, "h": 10, "label": "face"}]}
    r = api.post(f"/api/items/{item}/annotations", json={"value": value, "client_key": "outside-1"})
    assert r.status_code == 422
    assert r.json()["error"]["field"] == "value.boxes[0]"


def test_quality_of_a_classify_project_is_a_clear_422(api: Any) -> None:
    r = api.post("/api/projects", json={"name": "c", "labels": ["a"], "modality": "image"})
    r = api.get(f"/api/projects/{r.json()['id']}/boxes/quality")
    assert r.status_code == 422 and "not boxes" in r.json()["error"]["message"]


def test_thumbnails_are_small_and_cached(api: Any, ctx: AppContext) -> None:
    r = api.post("/api/projects", json={"name": "c", "labels": ["a"], "modality": "image"})
    project = r.json()["id"]
    item = upload(api, project, "big.png", encode(Image.new("RGB", (1200, 600), (10, 200, 30))))
    r = api.get(f"/api/items/{item}/thumbnail")
    assert r.status_code == 200 and r.headers["content-type"] == "image/jpeg"
    thumb = Image.open(io.BytesIO(r.content))
    assert thumb.size == (256, 128)
    assert (
        api.get(f"/api/items/{item}/thumbnail", headers={"If-None-Match": r.headers["etag"]}).status_code
        == 304
    )
    # Transparency survives as PNG.
    rgba = upload(api, project, "glass.png", encode(Image.new("RGBA", (300, 300), (0, 0, 255, 80))))
    assert api.get(f"/api/items/{rgba}/thumbnail").headers["content-type"] == "image/png"


def test_16_bit_grayscale_keeps_its_original_and_gets_a_view_and_samples(api: Any) -> None:
    r = api.post("/api/projects", json={"name": "ct", "labels": ["normal", "lesion"], "modality": "image"})
    project = r.json()["id"]
    pixels = gradient16()
    original = encode(Image.fromarray(pixels))
    item = upload(api, project, "slice.png", original)
    assert api.get(f"/api/items/{item}/media").content == original

    r = api.get(f"/api/items/{item}/view")
    assert r.status_code == 200 and r.headers["x-hitloop-samples"] == "1"
    shown = Image.open(io.BytesIO(r.content))
    assert shown.mode == "L" and shown.size == (64, 48)
    values = np.asarray(shown)
    assert values.min() == 0 and values.max() == 255  # the window spans the useful range

    r = api.get(f"/api/items/{item}/samples")
    assert r.status_code == 200
    assert (r.headers["x-width"], r.headers["x-height"]) == ("64", "48")
    assert (r.headers["x-low"], r.headers["x-high"]) == ("1000", "3000")
    np.testing.assert_array_equal(np.frombuffer(r.content, dtype="<u2").reshape(48, 64), pixels)


def test_tiff_is_viewed_as_png_and_8_bit_images_as_they_are(api: Any) -> None:
    r = api.post("/api/projects", json={"name": "t", "labels": ["a"], "modality": "image"})
    project = r.json()["id"]
    tiff = upload(api, project, "scan.tif", encode(Image.fromarray(gradient16()), "TIFF"), "image/tiff")
    r = api.get(f"/api/items/{tiff}/view")
    assert r.headers["content-type"] == "image/png" and r.headers["x-hitloop-samples"] == "1"
    jpeg = encode(Image.new("RGB", (20, 20), "red"), "JPEG")
    plain = upload(api, project, "red.jpg", jpeg, "image/jpeg")
    r = api.get(f"/api/items/{plain}/view")
    assert r.content == jpeg and "x-hitloop-samples" not in r.headers
    r = api.get(f"/api/items/{plain}/samples")
    assert r.status_code == 404 and r.json()["error"]["field"] == "item_id"


def bomb16(width: int, height: int) -> bytes:
    """A tiny 16-bit PNG whose header claims ``width`` x ``height`` pixels."""
    data = bytearray(encode(Image.fromarray(gradient16(8, 8))))
    assert data[12:16] == b"IHDR"
    data[16:24] = struct.pack(">II", width, height)
    data[29:33] = struct.pack(">I", zlib.crc32(bytes(data[12:29])))
    return bytes(data)


def test_a_16_bit_decompression_bomb_is_refused(api: Any, ctx: AppContext) -> None:
    r = api.post("/api/projects", json={"name": "t", "labels": ["a"], "modality": "image"})
    project = r.json()["id"]
    side = int(ctx.limits.max_image_pixels**0.5) + 10
    r = api.post(
        f"/api/projects/{project}/images", files=[("files", ("bomb.png", bomb16(side, side), "image/png"))]
    )
    assert r.status_code == 413, r.text
    assert "pixels" in r.json()["error"]["message"]
    assert [p for p in ctx.media.root.rglob("*") if p.is_file()] == []


def test_the_faces_job_can_be_queued_over_http(api: Any, ctx: AppContext) -> None:
    project = boxes_project(api)
    upload(api, project, "blank.png", encode(Image.new("RGB", (64, 64), "white")))
    r = api.post(f"/api/projects/{project}/jobs", json={"kind": "faces"})
    assert r.status_code == 202, r.text
    job = wait(ctx, r.json()["id"])
    assert job.state == "done" and job.result is not None and job.result["boxes"] == 0
    # With the options `hitloop faces` has: the job runs with them.
    args = {"label": "face", "redo": True, "params": {"min_neighbors": 6}}
    r = api.post(f"/api/projects/{project}/jobs", json={"kind": "faces", "args": args})
    assert r.status_code == 202, r.text
    assert r.json()["args"] == args
    job = wait(ctx, r.json()["id"])
    assert job.state == "done" and job.result is not None and job.result["items"] == 1


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        ({"kind": "faces", "args": {"label": "cat"}}, "args.label", "'cat' is not a label of project"),
        ({"kind": "faces", "args": {"params": {"blur": 3}}}, "args.params.blur", "unknown detector"),
        ({"kind": "faces", "args": {"params": {"scale_factor": 0.5}}}, "args.params", "scale_factor"),
    ],
)
def test_a_faces_job_with_a_wrong_label_or_detector_setting_is_refused_when_asked_for(
    api: Any, ctx: AppContext, body: dict[str, Any], field: str, words: str
) -> None:
    project = boxes_project(api, labels=["face", "person"])
    before = api.get(f"/api/projects/{project}/jobs").json()
    r = api.post(f"/api/projects/{project}/jobs", json=body)
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["field"] == field and words in error["message"]
    assert api.get(f"/api/projects/{project}/jobs").json() == before  # nothing queued


def test_a_faces_job_on_a_project_that_is_not_boxes_is_refused_when_asked_for(api: Any) -> None:
    r = api.post("/api/projects", json={"name": "c", "labels": ["a"], "modality": "image"})
    project = r.json()["id"]
    r = api.post(f"/api/projects/{project}/jobs", json={"kind": "faces"})
    assert r.status_code == 422, r.text
    assert r.json()["error"]["field"] == "project_id" and "not boxes" in r.json()["error"]["message"]


def test_a_faces_job_without_opencv_is_refused_when_asked_for(
    api: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = boxes_project(api)
    monkeypatch.setitem(sys.modules, "cv2", None)  # as on an install without the images extra
    r = api.post(f"/api/projects/{project}/jobs", json={"kind": "faces"})
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["field"] == "kind" and "pip install 'hitloop[images]'" in error["message"]
    assert api.get(f"/api/projects/{project}/jobs").json() == []
