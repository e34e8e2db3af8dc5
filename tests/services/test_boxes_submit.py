"""The boxes task: validated submits, project rules, exports carry the boxes."""

from __future__ import annotations

import csv
import io
import json

import pyarrow.parquet as pq
import pytest
from PIL import Image
from sqlalchemy import func, select

from hitloop.db.engine import Database
from hitloop.db.tables import Annotation
from hitloop.errors import InputError
from hitloop.media.store import MediaStore
from hitloop.schemas import AnnotationIn, ProjectCreate
from hitloop.services import annotations, auth, exports, items, projects
from hitloop.services.items import ItemLimits
from hitloop.types import Modality, TaskType


def _png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), (90, 120, 150)).save(out, "PNG")
    return out.getvalue()


def _setup(db: Database, media: MediaStore) -> tuple[int, int, int]:
    user = auth.create_user(db, "boxer", "boxer-password").id
    spec = ProjectCreate(name="b", task=TaskType.BOXES, modality=Modality.IMAGE, labels=["face", "hand"])
    pid = projects.create_project(db, user, spec).id
    item = items.add_image(db, media, pid, user, _png(200, 100), filename="a.png", limits=ItemLimits())
    return user, pid, item


def _count(db: Database) -> int:
    with db.read() as s:
        return int(s.scalar(select(func.count()).select_from(Annotation)) or 0)


def test_boxes_are_stored_rounded_and_exported(db: Database, media: MediaStore) -> None:
    user, pid, item = _setup(db, media)
    boxes = [
        {"x": 10, "y": 5.123456, "w": 50, "h": 40, "label": "face"},
        {"x": 150, "y": 60, "w": 50, "h": 40, "label": "hand"},  # touches the corner exactly
    ]
    out = annotations.submit(db, user, item, AnnotationIn(value={"boxes": boxes}, client_key="box-key-1"))
    assert out.value == {"boxes": [{**boxes[0], "y": 5.12}, boxes[1]]}
    stats = projects.project_stats(db, pid)
    assert stats.distribution == {"face": 1, "hand": 1} and stats.labeled == 1

    lines = b"".join(exports.iter_export(db, pid, "jsonl")).decode().splitlines()
    assert json.loads(lines[0])["value"] == out.value
    csv_rows = list(csv.DictReader(io.StringIO(b"".join(exports.iter_export(db, pid, "csv")).decode())))
    assert json.loads(csv_rows[0]["value"]) == out.value
    parquet = io.BytesIO()
    exports.export_parquet(db, pid, parquet)
    parquet.seek(0)
    [row] = pq.read_table(parquet).to_pylist()
    assert json.loads(row["value"]) == out.value


def test_an_empty_box_list_is_an_answer(db: Database, media: MediaStore) -> None:
    user, _, item = _setup(db, media)
    out = annotations.submit(db, user, item, AnnotationIn(value={"boxes": []}, client_key="box-key-2"))
    assert out.value == {"boxes": []}


@pytest.mark.parametrize(
    ("value", "field", "message"),
    [
        ({"boxes": [{"x": 0, "y": 0, "w": 201, "h": 10, "label": "face"}]}, "value.boxes[0]", "leaves"),
        ({"boxes": [{"x": -1, "y": 0, "w": 10, "h": 10, "label": "face"}]}, "value.boxes[0]", "leaves"),
        ({"boxes": [{"x": 0, "y": 0, "w": 0, "h": 10, "label": "face"}]}, "value.boxes[0]", "no area"),
        ({"boxes": [{"x": 0, "y": 0, "w": 5, "h": 5, "label": "cat"}]}, "value.boxes[0].label", "unknown"),
        ({"boxes": [{"x": "0", "y": 0, "w": 5, "h": 5, "label": "face"}]}, "value.boxes[0]", "numbers"),
        ({"boxes": [{"x": True, "y": 0, "w": 5, "h": 5, "label": "face"}]}, "value.boxes[0]", "numbers"),
        ({"boxes": [{"x": 0, "y": 0, "w": 5, "h": 5}]}, "value.boxes[0]", "a box is"),
        ({"boxes": [{"x": 0, "y": 0, "w": 5, "h": 5, "label": "face"}] * 2001}, "value.boxes", "at most"),
        ({"label": "face"}, "value", "a boxes value"),
    ],
    ids=[
        "too-wide",
        "negative",
        "no-area",
        "unknown-label",
        "string",
        "bool",
        "missing-label",
        "too-many",
        "shape",
    ],
)
def test_bad_boxes_are_refused_and_change_nothing(
    db: Database, media: MediaStore, value: dict[str, object], field: str, message: str
) -> None:
    user, _, item = _setup(db, media)
    with pytest.raises(InputError, match=message) as err:
        annotations.submit(db, user, item, AnnotationIn(value=value, client_key="bad-box-1"))
    assert err.value.field == field
    assert _count(db) == 0


def test_a_boxes_project_needs_images(db: Database) -> None:
    with pytest.raises(InputError) as err:
        projects.create_project(db, None, ProjectCreate(name="t", task=TaskType.BOXES, labels=["x"]))
    assert err.value.field == "modality"


def test_box_answers_queue_no_training(db: Database, media: MediaStore) -> None:
    # The model loop learns classify projects; a boxes project's answers must not start train jobs.
    from hitloop.jobs import records
    from hitloop.services.loop_settings import DEFAULT_RETRAIN_EVERY

    user, pid, _ = _setup(db, media)
    for i in range(DEFAULT_RETRAIN_EVERY + 1):
        item = items.add_image(
            db, media, pid, user, _png(20 + i, 20), filename=f"{i}.png", limits=ItemLimits()
        )
        annotations.submit(db, user, item, AnnotationIn(value={"boxes": []}, client_key=f"no-train-{i:04d}"))
    assert records.list_jobs(db, project_id=pid) == []
