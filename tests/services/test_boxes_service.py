"""Face suggestions, COCO import and export, and box quality, through the services."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import pytest
from PIL import Image
from sqlalchemy import func, select

from hitloop.db.engine import Database
from hitloop.db.tables import ImportRun, Item, Suggestion
from hitloop.errors import InputError, NotFoundError
from hitloop.media.store import MediaStore
from hitloop.ml.boxes import iou_matrix
from hitloop.schemas import AnnotationIn, ProjectCreate
from hitloop.services import annotations, auth, boxes, items, projects, queue
from hitloop.services.items import ItemLimits
from hitloop.types import Modality, TaskType

skimage_data = pytest.importorskip("skimage.data")

ASTRONAUT_FACE = (178, 73, 95, 104)  # drawn by hand, see tests/ml/test_faces.py


def png(array_or_size: Any) -> bytes:
    out = io.BytesIO()
    if isinstance(array_or_size, tuple):
        Image.new("RGB", array_or_size, (200, 200, 200)).save(out, "PNG")
    else:
        Image.fromarray(array_or_size).save(out, "PNG")
    return out.getvalue()


def boxes_project(db: Database, labels: list[str] | None = None) -> tuple[int, int]:
    user = auth.create_user(db, "ann", "ann-password").id
    spec = ProjectCreate(
        name="faces", task=TaskType.BOXES, modality=Modality.IMAGE, labels=labels or ["face", "hat"]
    )
    return user, projects.create_project(db, user, spec).id


def add(db: Database, media: MediaStore, pid: int, user: int, data: bytes, name: str) -> int:
    return items.add_image(db, media, pid, user, data, filename=name, limits=ItemLimits())


def count(db: Database, table: Any) -> int:
    with db.read() as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)


# ---- face suggestions --------------------------------------------------------


def test_faces_are_suggested_on_open_images(db: Database, media: MediaStore) -> None:
    user, pid = boxes_project(db)
    face_item = add(db, media, pid, user, png(skimage_data.astronaut()), "astronaut.png")
    blank_item = add(db, media, pid, user, png((300, 200)), "blank.png")
    result = boxes.suggest_faces(db, media, pid)
    assert result == {"items": 2, "boxes": 1}

    suggestion = boxes.get_suggestion(db, face_item)
    assert suggestion is not None and suggestion["explanation"]["source"] == "faces"
    [box] = suggestion["value"]["boxes"]
    assert box["label"] == "face"
    assert iou_matrix([[box["x"], box["y"], box["w"], box["h"]]], [ASTRONAUT_FACE])[0, 0] >= 0.5
    assert boxes.get_suggestion(db, blank_item) == {
        "value": {"boxes": []},
        "explanation": suggestion["explanation"],
        "model_version_id": None,
    }
    # Done items are left alone; a second run finds nothing new to do unless asked to redo.
    assert boxes.suggest_faces(db, media, pid) == {"items": 0, "boxes": 0}
    assert boxes.suggest_faces(db, media, pid, redo=True)["items"] == 2
    assert count(db, Suggestion) == 2


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"label": "cat"}, "label"),
        ({"params": {"min_neighbours": 3}}, "params.min_neighbours"),
        ({"params": {"scale_factor": 0.5}}, "params"),
    ],
    ids=["unknown-label", "unknown-param", "bad-param"],
)
def test_bad_face_requests_are_refused(
    db: Database, media: MediaStore, kwargs: dict[str, Any], field: str
) -> None:
    user, pid = boxes_project(db)
    add(db, media, pid, user, png((64, 64)), "a.png")
    with pytest.raises(InputError) as err:
        boxes.suggest_faces(db, media, pid, **kwargs)
    assert err.value.field == field
    assert count(db, Suggestion) == 0


def test_faces_need_a_boxes_project(db: Database, media: MediaStore) -> None:
    spec = ProjectCreate(name="c", task=TaskType.CLASSIFY, modality=Modality.IMAGE, labels=["a", "b"])
    pid = projects.create_project(db, None, spec).id
    with pytest.raises(InputError, match="not boxes"):
        boxes.suggest_faces(db, media, pid)
    with pytest.raises(NotFoundError):
        boxes.suggest_faces(db, media, 999)


# ---- quality -----------------------------------------------------------------


def submit(db: Database, user: int, item: int, value: list[dict[str, Any]], key: str) -> None:
    annotations.submit(db, user, item, AnnotationIn(value={"boxes": value}, client_key=f"key-{key}-0000"))


def test_quality_counts_edits_and_agreement(db: Database, media: MediaStore) -> None:
    user, pid = boxes_project(db)
    other = auth.create_user(db, "bob", "bob-password").id
    projects_row_overlap(db, pid, 2)
    item = add(db, media, pid, user, png((400, 400)), "a.png")
    suggested = [
        {"x": 10, "y": 10, "w": 100, "h": 100, "label": "face"},  # kept
        {"x": 200, "y": 200, "w": 50, "h": 50, "label": "face"},  # moved
        {"x": 300, "y": 10, "w": 40, "h": 40, "label": "face"},  # deleted
    ]
    boxes._write_suggestions(db, pid, {item: suggested}, {"source": "test"})
    mine = [
        {"x": 10, "y": 10, "w": 100, "h": 100, "label": "face"},
        {"x": 210, "y": 205, "w": 50, "h": 50, "label": "face"},
        {"x": 0, "y": 300, "w": 30, "h": 30, "label": "hat"},  # added
    ]
    submit(db, user, item, mine, "quality-1")
    submit(db, other, item, mine[:2], "quality-2")
    quality = boxes.box_quality(db, pid)
    assert quality["edits"] == {"kept": 2, "moved": 2, "deleted": 2, "added": 1}
    # Person 1: 2 of 3 suggestions match a box at IoU >= 0.5 (the moved one at IoU 1800/3200 = 0.56).
    assert quality["suggestions"]["precision"] == pytest.approx(4 / 6, abs=1e-4)
    assert quality["suggestions"]["recall"] == pytest.approx(4 / 5, abs=1e-4)
    # Person vs suggestion: matched IoUs over (suggested + drawn - matched), per answer, then the mean.
    # Person 1 matches the kept (IoU 1) and the moved box (0.5625) of 3 + 3 boxes: 1.5625 / 4;
    # person 2 the same two of 3 + 2 boxes: 1.5625 / 3.
    assert quality["suggestions"]["agreement"] == pytest.approx((1.5625 / 4 + 1.5625 / 3) / 2, abs=1e-4)
    assert quality["suggestions"]["answers_compared"] == 2
    assert quality["people"]["pairs"] == 1
    assert quality["people"]["agreement"] == pytest.approx(2 / 3, abs=1e-4)


def test_quality_is_computed_once_per_change_not_per_view(
    db: Database, media: MediaStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from hitloop.schemas import ReviewDecision
    from hitloop.services import review

    computed: list[int] = []
    real = boxes._compute_quality

    def counting(db: Database, project_id: int, threshold: float) -> dict[str, Any]:
        computed.append(project_id)
        return real(db, project_id, threshold)

    monkeypatch.setattr(boxes, "_compute_quality", counting)
    monkeypatch.setattr(boxes._QUALITY_CACHE, "clock", lambda: 1_000_000.0)  # nothing settles meanwhile
    user, pid = boxes_project(db)
    other = auth.create_user(db, "bob", "bob-password").id
    projects_row_overlap(db, pid, 2)
    item = add(db, media, pid, user, png((400, 400)), "a.png")
    face = {"x": 10, "y": 10, "w": 100, "h": 100, "label": "face"}
    boxes._write_suggestions(db, pid, {item: [face]}, {"source": "test"})
    submit(db, user, item, [face], "views-1")

    first = boxes.box_quality(db, pid)
    for _ in range(20):  # page views
        assert boxes.box_quality(db, pid) == first
    assert len(computed) == 1
    first["edits"]["kept"] = 99  # a caller changing its copy changes nothing cached
    assert boxes.box_quality(db, pid)["edits"]["kept"] == 1

    submit(db, other, item, [], "views-2")  # a second answer: computed again, once
    second = boxes.box_quality(db, pid)
    assert boxes.box_quality(db, pid) == second
    assert len(computed) == 2
    assert second["edits"] == {"kept": 1, "moved": 0, "deleted": 1, "added": 0}
    assert second["people"]["pairs"] == 1

    # A review withdrawing an answer adds no answer row, but the state moves all the same.
    with db.read() as s:
        from hitloop.db.tables import Annotation

        bobs = s.scalar(select(Annotation.id).where(Annotation.user_id == other))
    review.review_annotation(db, user, bobs, ReviewDecision(action="reject"))
    third = boxes.box_quality(db, pid)
    assert len(computed) == 3
    assert third["edits"] == {"kept": 1, "moved": 0, "deleted": 0, "added": 0}
    assert third["people"]["pairs"] == 0

    # New suggestions (a face job) count too; another threshold is its own entry.
    moved = {**face, "x": 60}
    boxes._write_suggestions(db, pid, {item: [moved]}, {"source": "test"})
    fourth = boxes.box_quality(db, pid)
    assert len(computed) == 4 and fourth["edits"]["moved"] == 1
    assert boxes.box_quality(db, pid, threshold=0.2)["threshold"] == 0.2
    assert boxes.box_quality(db, pid, threshold=0.2)["threshold"] == 0.2
    assert boxes.box_quality(db, pid) == fourth
    assert len(computed) == 5


def projects_row_overlap(db: Database, pid: int, overlap: int) -> None:
    from hitloop.db.tables import Project

    with db.write() as s:
        row = s.get(Project, pid)
        assert row is not None
        row.overlap = overlap


# ---- COCO --------------------------------------------------------------------


def coco_folder(tmp_path: Path) -> Path:
    (tmp_path / "imgs").mkdir()
    (tmp_path / "imgs" / "a.png").write_bytes(png((200, 100)))
    (tmp_path / "imgs" / "b.png").write_bytes(png((50, 60)))
    doc = {
        "images": [
            {"id": 1, "file_name": "imgs/a.png", "width": 200, "height": 100},
            {"id": 7, "file_name": "imgs/b.png"},
        ],
        "annotations": [
            {"id": 1, "image_id": 1, "category_id": 3, "bbox": [10, 20, 30, 40]},
            {"id": 2, "image_id": 1, "category_id": 4, "bbox": [150, 50, 50.4, 50]},  # 0.4 px over: clipped
        ],
        "categories": [{"id": 3, "name": "face"}, {"id": 4, "name": "hat"}],
    }
    path = tmp_path / "coco.json"
    path.write_text(json.dumps(doc, indent=1))
    return path


def test_coco_import_then_answer_then_export(db: Database, media: MediaStore, tmp_path: Path) -> None:
    user, pid = boxes_project(db)
    path = coco_folder(tmp_path)
    assert boxes.import_coco(db, media, pid, user, path, limits=ItemLimits()) == {"images": 2, "boxes": 2}
    served = {i.external_id: i for i in queue.next_items(db, pid, user, count=5)}
    a = served["imgs/a.png"]
    suggestion = boxes.get_suggestion(db, a.id)
    assert suggestion is not None
    assert suggestion["value"]["boxes"] == [
        {"x": 10.0, "y": 20.0, "w": 30.0, "h": 40.0, "label": "face"},
        {"x": 150.0, "y": 50.0, "w": 50.0, "h": 50.0, "label": "hat"},
    ]
    assert boxes.get_suggestion(db, served["imgs/b.png"].id) is None
    submit(db, user, a.id, suggestion["value"]["boxes"][:1], "coco-1")
    submit(db, user, served["imgs/b.png"].id, [], "coco-2")

    doc = boxes.export_coco(db, pid)
    assert doc["categories"] == [{"id": 1, "name": "face"}, {"id": 2, "name": "hat"}]
    assert [(i["file_name"], i["width"], i["height"]) for i in doc["images"]] == [
        ("imgs/a.png", 200, 100),
        ("imgs/b.png", 50, 60),
    ]
    [ann] = doc["annotations"]
    assert ann["bbox"] == [10.0, 20.0, 30.0, 40.0] and ann["category_id"] == 1 and ann["annotator"] == "ann"
    # The export reads back in (file names are relative to where it is written).
    out = tmp_path / "export.json"
    out.write_text(json.dumps(doc))
    from hitloop.formats.coco import read_coco

    again = read_coco(out)
    assert [len(i.boxes) for i in again.images] == [1, 0]


def _broken(tmp_path: Path, change: Any) -> Path:
    path = coco_folder(tmp_path)
    doc = json.loads(path.read_text())
    change(doc)
    path.write_text(json.dumps(doc))
    return path


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (
            lambda d: d["images"][1].update(file_name="imgs/missing.png"),
            "images[1].file_name",
            "no such image",
        ),
        (lambda d: d["images"][1].update(file_name="../../etc/passwd"), "images[1].file_name", "leaves"),
        (lambda d: d["images"][0].update(width=300), "images[0].width", "200x100"),
        (lambda d: d["images"][1].update(id=1), "images[1].id", "twice"),
        (lambda d: d["annotations"][1].update(category_id=9), "annotations[1].category_id", "unknown"),
        (lambda d: d["annotations"][0].update(image_id=2), "annotations[0].image_id", "unknown"),
        (lambda d: d["annotations"][0].update(bbox=[0, 0, 10]), "annotations[0].bbox", "bbox"),
        (lambda d: d["annotations"][0].update(bbox=[0, 0, 0, 10]), "annotations[0].bbox", "no area"),
        (lambda d: d["annotations"][0].update(bbox=[190, 0, 20, 10]), "annotations[0].bbox", "leaves"),
        (lambda d: d["categories"].append({"id": 5, "name": "dog"}), "categories", "not a label"),
        (lambda d: d.pop("images"), "images", "images"),
    ],
    ids=[
        "missing-image",
        "path-escape",
        "wrong-size",
        "duplicate-id",
        "unknown-category",
        "unknown-image",
        "short-bbox",
        "empty-bbox",
        "outside-bbox",
        "category-not-a-label",
        "no-images",
    ],
)
def test_bad_coco_files_import_nothing(
    db: Database, media: MediaStore, tmp_path: Path, change: Any, field: str, message: str
) -> None:
    user, pid = boxes_project(db)
    path = _broken(tmp_path, change)
    with pytest.raises(InputError, match=message) as err:
        boxes.import_coco(db, media, pid, user, path, limits=ItemLimits())
    assert err.value.field == field and err.value.file == str(path)
    assert count(db, Item) == 0 and count(db, Suggestion) == 0 and count(db, ImportRun) == 0


def test_coco_json_errors_name_the_line(db: Database, media: MediaStore, tmp_path: Path) -> None:
    user, pid = boxes_project(db)
    path = tmp_path / "bad.json"
    path.write_text('{\n  "images": [\n    {"id": 1,}\n  ]\n}\n')
    with pytest.raises(InputError, match="not valid JSON") as err:
        boxes.import_coco(db, media, pid, user, path, limits=ItemLimits())
    assert err.value.line == 3
    assert count(db, Item) == 0


def test_a_damaged_image_fails_the_whole_coco_import(db: Database, media: MediaStore, tmp_path: Path) -> None:
    user, pid = boxes_project(db)
    path = coco_folder(tmp_path)
    good = png((50, 60))
    (tmp_path / "imgs" / "b.png").write_bytes(good[: len(good) // 2])  # header intact, pixels cut
    with pytest.raises(Exception, match="damaged"):
        boxes.import_coco(db, media, pid, user, path, limits=ItemLimits())
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Item).where(Item.state != "staged")) == 0
    assert count(db, Suggestion) == 0
