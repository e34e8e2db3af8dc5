"""Streamed imports: staged out of sight, published at once, all or nothing; gold answers on import."""

from __future__ import annotations

import json
import random
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hitloop.db.engine import Database
from hitloop.db.tables import Event, ImportRun, Item
from hitloop.errors import ConflictError, InputError
from hitloop.formats import ItemRecord, open_reader
from hitloop.media.store import MediaStore
from hitloop.schemas import ImportResult, ProjectCreate, TeamSettingsUpdate
from hitloop.services import auth, gold, items, projects, queue, team
from hitloop.services.items import ItemLimits
from hitloop.types import Modality, TaskType


def _project(db: Database, task: TaskType = TaskType.CLASSIFY, modality: Modality = Modality.TEXT) -> int:
    spec = ProjectCreate(name="p", task=task, modality=modality, labels=["pos", "neg", "meh"])
    return projects.create_project(db, None, spec).id


def _rows(db: Database, project_id: int) -> list[Item]:
    with db.read() as s:
        return list(s.scalars(select(Item).where(Item.project_id == project_id).order_by(Item.id)))


def _runs(db: Database) -> list[str]:
    with db.read() as s:
        return list(s.scalars(select(ImportRun.state).order_by(ImportRun.id)))


def _jsonl(tmp_path: Path, rows: list[dict[str, object]]) -> Path:
    path = tmp_path / "items.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def _import(
    db: Database,
    media: MediaStore,
    project_id: int,
    path: Path,
    *,
    gold_field: str | None = None,
    batch: int = 2,
) -> ImportResult:
    return items.import_records(
        db,
        media,
        project_id,
        None,
        open_reader(path, id_field="id", label_field=gold_field),
        source=path.name,
        limits=ItemLimits(),
        batch_size=batch,
        gold_field=gold_field,
    )


def test_import_keeps_file_order_fields_and_metadata(db: Database, media: MediaStore, tmp_path: Path) -> None:
    pid = _project(db)
    rows = [{"text": f"review {i}", "id": f"r{i}", "stars": i % 5, "tags": ["a"] * (i % 2)} for i in range(7)]
    result = _import(db, media, pid, _jsonl(tmp_path, rows), batch=3)
    assert (result.created, result.gold) == (7, 0)
    stored = _rows(db, pid)
    assert [(r.text, r.external_id, r.state, r.import_id) for r in stored] == [
        (f"review {i}", f"r{i}", "open", result.import_id) for i in range(7)
    ]
    assert [r.meta for r in stored] == [{"stars": i % 5, "tags": ["a"] * (i % 2)} for i in range(7)]
    assert [r.id for r in stored] == sorted(r.id for r in stored)
    assert _runs(db) == ["done"]
    with db.read() as s:
        event = s.scalars(select(Event).where(Event.action == "items.import")).one()
    assert event.detail == {"source": "items.jsonl", "count": 7}


def test_rows_stay_invisible_until_the_whole_source_is_read(
    db: Database, media: MediaStore, tmp_path: Path
) -> None:
    pid = _project(db)
    reader = auth.create_user(db, "ann", "ann-password")
    seen: list[tuple[int, int]] = []

    def records() -> Iterator[ItemRecord]:
        for i in range(6):
            if i == 5:  # two batches of two are staged by now
                with db.read() as s:
                    total = s.scalar(select(func.count()).select_from(Item).where(Item.project_id == pid))
                served = queue.next_items(db, pid, reader.id, count=5)
                seen.append((int(total or 0), len(served)))
            yield ItemRecord(line=i + 1, text=f"t{i}")

    result = items.import_records(
        db, media, pid, None, records(), source="gen", limits=ItemLimits(), batch_size=2
    )
    assert seen == [(0, 0)]
    assert result.created == 6
    assert len(queue.next_items(db, pid, reader.id, count=8)) == 6


def test_a_bad_record_after_full_batches_leaves_nothing(
    db: Database, media: MediaStore, tmp_path: Path
) -> None:
    pid = _project(db)
    rows: list[dict[str, object]] = [{"text": f"t{i}"} for i in range(9)]
    rows.append({"text": "   "})
    with pytest.raises(InputError) as caught:
        _import(db, media, pid, _jsonl(tmp_path, rows))
    assert (caught.value.file, caught.value.line, caught.value.field) == ("items.jsonl", 10, "text")
    assert _rows(db, pid) == []
    assert _runs(db) == ["failed"]
    # The failed import's connection and table are gone; the next import starts clean.
    assert _import(db, media, pid, _jsonl(tmp_path, rows[:3])).created == 3
    assert [r.text for r in _rows(db, pid)] == ["t0", "t1", "t2"]


def test_an_import_cancelled_while_it_runs_publishes_nothing(db: Database, media: MediaStore) -> None:
    pid = _project(db)

    def records() -> Iterator[ItemRecord]:
        yield ItemRecord(line=1, text="first")
        with db.write() as s:  # what cancelling the import from elsewhere does
            s.execute(ImportRun.__table__.update().values(state="cancelled"))
        yield ItemRecord(line=2, text="second")

    with pytest.raises(ConflictError, match="cancelled"):
        items.import_records(db, media, pid, None, records(), source="gen", limits=ItemLimits())
    assert _rows(db, pid) == []


def test_gold_field_makes_gold_items_with_their_known_answers(
    db: Database, media: MediaStore, tmp_path: Path
) -> None:
    pid = _project(db)
    rows: list[dict[str, object]] = [
        {"text": "great", "id": "a", "truth": "pos"},
        {"text": "fine", "id": "b"},
        {"text": "awful", "id": "c", "truth": "neg"},
        {"text": "so so", "id": "d", "truth": ""},
    ]
    result = _import(db, media, pid, _jsonl(tmp_path, rows), gold_field="truth")
    assert (result.created, result.gold) == (4, 2)
    stored = _rows(db, pid)
    assert [(r.external_id, r.state, r.gold) for r in stored] == [
        ("a", "gold", {"label": "pos"}),
        ("b", "open", None),
        ("c", "gold", {"label": "neg"}),
        ("d", "open", None),
    ]
    assert all("truth" not in r.meta for r in stored)
    listed = gold.list_gold(db, pid)
    assert [(g.external_id, g.value) for g in listed] == [("a", {"label": "pos"}), ("c", {"label": "neg"})]
    # Served like gold items marked by hand: once per person, at the gold rate.
    team.update_team_settings(db, None, pid, TeamSettingsUpdate(gold_rate=1.0))
    ann = auth.create_user(db, "ann", "ann-password", is_admin=True)
    served = queue.next_items(db, pid, ann.id, count=2, rng=random.Random(0))
    assert {i.external_id for i in served} == {"a", "c"}
    with db.read() as s:
        event = s.scalars(select(Event).where(Event.action == "items.import")).one()
    assert event.detail["gold"] == 2


def test_multilabel_gold_takes_a_list_or_one_label(db: Database, media: MediaStore, tmp_path: Path) -> None:
    pid = _project(db, TaskType.MULTILABEL)
    rows: list[dict[str, object]] = [
        {"text": "x", "truth": ["meh", "pos"]},
        {"text": "y", "truth": "neg"},
        {"text": "z", "truth": []},
    ]
    result = _import(db, media, pid, _jsonl(tmp_path, rows), gold_field="truth")
    assert result.gold == 3
    # In the project's label order, as a submitted answer would be, so they compare equal.
    assert [r.gold for r in _rows(db, pid)] == [
        {"labels": ["pos", "meh"]},
        {"labels": ["neg"]},
        {"labels": []},
    ]


@pytest.mark.parametrize(
    ("task", "value", "message"),
    [
        (TaskType.CLASSIFY, "great", "unknown label 'great'; the project's labels are 'pos', 'neg', 'meh'"),
        (TaskType.CLASSIFY, ["pos"], "a classify project takes one label (a string), got a list"),
        (
            TaskType.MULTILABEL,
            ["pos", "nope"],
            "unknown label 'nope'; the project's labels are 'pos', 'neg', 'meh'",
        ),
        (TaskType.MULTILABEL, ["pos", "pos"], "a label is chosen twice"),
        (TaskType.CLASSIFY, 3, "the label must be a string or a list of strings, got int"),
    ],
    ids=["unknown", "list-for-classify", "unknown-in-list", "twice", "not-a-label"],
)
def test_a_bad_gold_answer_names_line_and_field_and_imports_nothing(
    db: Database, media: MediaStore, tmp_path: Path, task: TaskType, value: object, message: str
) -> None:
    pid = _project(db, task)
    rows: list[dict[str, object]] = [{"text": f"t{i}", "truth": "pos"} for i in range(4)]
    rows.append({"text": "bad one", "truth": value})
    with pytest.raises(InputError) as caught:
        _import(db, media, pid, _jsonl(tmp_path, rows), gold_field="truth")
    err = caught.value
    assert (err.message, err.line, err.field) == (message, 5, "truth")
    assert err.file is not None and err.file.endswith("items.jsonl")
    assert _rows(db, pid) == []
    assert _runs(db) == ["failed"]


def test_gold_on_import_needs_a_classify_or_multilabel_project(
    db: Database, media: MediaStore, tmp_path: Path
) -> None:
    pid = _project(db, TaskType.TRANSCRIBE, Modality.AUDIO)
    with pytest.raises(InputError) as caught:
        items.import_records(
            db, media, pid, None, iter(()), source="x", limits=ItemLimits(), gold_field="truth"
        )
    assert caught.value.field == "gold_field"
    assert _rows(db, pid) == [] and _runs(db) == []


def test_a_field_named_for_two_purposes_is_refused(db: Database, media: MediaStore, tmp_path: Path) -> None:
    pid = _project(db)
    with pytest.raises(InputError) as caught:
        _import(db, media, pid, _jsonl(tmp_path, [{"text": "x"}]), gold_field="text")
    assert (caught.value.field, caught.value.message) == (
        "text",
        "the field 'text' is named for two purposes",
    )
    assert _rows(db, pid) == []


def test_text_and_metadata_arrive_unchanged(db: Database, media: MediaStore, tmp_path: Path) -> None:
    pid = _project(db)
    tricky = ["tab\there", "back\\slash \\N", "two\nlines\r\n", "quote \" and ' and ,", "émoji 🙂 \u2028"]
    rows: list[dict[str, object]] = [
        {"text": t, "id": f"\\{i}\t", "m": {"raw": t, "n": None, "x": 1.5}} for i, t in enumerate(tricky)
    ]
    _import(db, media, pid, _jsonl(tmp_path, rows), batch=3)
    assert [(r.text, r.external_id, r.meta) for r in _rows(db, pid)] == [
        (t, f"\\{i}\t", {"m": {"raw": t, "n": None, "x": 1.5}}) for i, t in enumerate(tricky)
    ]


_CRASHING_IMPORT = """
import sys, time
from pathlib import Path
from hitloop.db.engine import Database
from hitloop.formats import ItemRecord
from hitloop.media.store import MediaStore
from hitloop.services import items

url, media_dir, project_id, marker = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])

def records():
    for i in range(10):
        if i == 6:
            marker.write_text("staged")
            time.sleep(600)
        yield ItemRecord(line=i + 1, text=f"t{i}")

items.import_records(Database(url), MediaStore(Path(media_dir)), project_id, None, records(),
                     source="crash", limits=items.ItemLimits(), batch_size=2)
"""


def test_a_crash_mid_import_leaves_no_rows_and_is_cleaned_up(
    db: Database, media: MediaStore, tmp_path: Path
) -> None:
    pid = _project(db)
    marker = tmp_path / "marker"
    script = tmp_path / "crash.py"
    script.write_text(_CRASHING_IMPORT)
    args = [sys.executable, str(script), db.url, str(tmp_path / "media"), str(pid), str(marker)]
    child = subprocess.Popen(args)
    try:
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert child.poll() is None, "the import process ended early"
            assert time.monotonic() < deadline, "the import never staged its rows"
            time.sleep(0.05)
    finally:
        child.kill()  # SIGKILL: no cleanup code runs in the child
        child.wait()
    assert _rows(db, pid) == []
    assert _runs(db) == ["running"]
    assert items.cleanup_interrupted_imports(db, stale_after_s=0) == 1
    assert _runs(db) == ["failed"]
    assert _rows(db, pid) == []
    assert _import(db, media, pid, _jsonl(tmp_path, [{"text": "after"}])).created == 1
