"""``hitloop faces`` and ``hitloop coco``."""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from hitloop.api.context import AppContext
from hitloop.db.tables import Item, Suggestion
from hitloop.schemas import AnnotationIn, ProjectCreate
from hitloop.services import annotations, auth, projects
from hitloop.types import Modality, TaskType
from tests.cli.conftest import Run

skimage_data = pytest.importorskip("skimage.data")


def boxes_project(ctx: AppContext) -> int:
    spec = ProjectCreate(name="faces", task=TaskType.BOXES, modality=Modality.IMAGE, labels=["face"])
    return projects.create_project(ctx.db, None, spec).id


def count(ctx: AppContext, table: object) -> int:
    with ctx.db.read() as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)  # type: ignore[arg-type]


def test_import_a_folder_then_suggest_faces(run: Run, ctx: AppContext, tmp_path: Path) -> None:
    pid = boxes_project(ctx)
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.fromarray(skimage_data.astronaut()).save(folder / "astronaut.jpg", quality=90)
    Image.new("RGB", (120, 80), "white").save(folder / "wall.png")
    assert "Imported 2 items" in run("import", pid, folder).stdout
    out = run("faces", pid, "--min-neighbors", 4).stdout
    assert "Suggested 1 face boxes on 2 images" in out
    assert count(ctx, Suggestion) == 2


def test_faces_on_a_text_project_is_a_clear_error(run: Run, ctx: AppContext) -> None:
    pid = projects.create_project(ctx.db, None, ProjectCreate(name="t", labels=["a"])).id
    result = run("faces", pid, expect=2)
    assert "not boxes" in result.stderr


def test_coco_round_trip(
    run: Run, ctx: AppContext, tmp_path: Path, write: Callable[[str, str], Path]
) -> None:
    pid = boxes_project(ctx)
    buf = io.BytesIO()
    Image.new("RGB", (100, 100), "gray").save(buf, "PNG")
    (tmp_path / "a.png").write_bytes(buf.getvalue())
    doc = {
        "images": [{"id": 1, "file_name": "a.png"}],
        "annotations": [{"image_id": 1, "category_id": 1, "bbox": [5, 5, 20, 20]}],
        "categories": [{"id": 1, "name": "face"}],
    }
    path = write("in.json", json.dumps(doc))
    assert "Imported 1 images with 1 suggested boxes" in run("coco", "import", pid, path).stdout
    user = auth.create_user(ctx.db, "ann", "ann-password")
    with ctx.db.read() as s:
        item_id = s.scalar(select(Item.id))
    value = {"boxes": [{"x": 5, "y": 5, "w": 20, "h": 21, "label": "face"}]}
    annotations.submit(ctx.db, user.id, item_id, AnnotationIn(value=value, client_key="cli-coco-1"))
    out = tmp_path / "out.json"
    assert "Wrote 1 images and 1 boxes" in run("coco", "export", pid, "-o", out).stdout
    exported = json.loads(out.read_text())
    assert exported["annotations"][0]["bbox"] == [5, 5, 20, 21]
    assert json.loads(run("coco", "export", pid, "-o", "-").stdout) == exported


def test_a_bad_coco_file_names_the_field_and_imports_nothing(
    run: Run, ctx: AppContext, write: Callable[[str, str], Path]
) -> None:
    pid = boxes_project(ctx)
    path = write("in.json", json.dumps({"images": [{"id": 1, "file_name": "nope.png"}]}))
    result = run("coco", "import", pid, path, expect=2)
    assert f"{path}, field 'images[0].file_name'" in result.stderr and "no such image" in result.stderr
    assert count(ctx, Item) == 0


def test_dicom_import(run: Run, ctx: AppContext, tmp_path: Path) -> None:
    pytest.importorskip("pydicom")
    import numpy as np

    from tests.services.test_dicom import write_dicom

    pid = projects.create_project(ctx.db, None, ProjectCreate(name="ct", labels=["a"], modality="image")).id
    write_dicom(tmp_path / "scans" / "a.dcm", np.full((20, 30), 1500, np.uint16))
    assert "Imported 1 DICOM images" in run("dicom", "import", pid, tmp_path / "scans").stdout
    (tmp_path / "scans" / "b.dcm").write_bytes(b"junk" * 100)
    result = run("dicom", "import", pid, tmp_path / "scans", expect=2)
    assert "b.dcm" in result.stderr and "not a DICOM file" in result.stderr
    assert count(ctx, Item) == 1
