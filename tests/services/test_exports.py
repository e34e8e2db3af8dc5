"""Exports: the three formats carry the same rows, JSON columns intact."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from hitloop.db.engine import Database
from hitloop.errors import InputError, NotFoundError
from hitloop.schemas import AnnotationIn, ItemIn, ProjectCreate
from hitloop.services import annotations, auth, exports, items, projects
from hitloop.services.items import ItemLimits

TEXTS = ["plain", 'quote " and, comma', "line\nbreak", "ünïcödé ✓ 中文", "</script><b>x</b>"]


@pytest.fixture
def project(db: Database) -> int:
    user = auth.create_user(db, "ann", "ann-password").id
    p = projects.create_project(db, user, ProjectCreate(name="p", labels=["a", "b"]))
    new = [ItemIn(text=t, external_id=f"e{i}", meta={"k": i, "s": t}) for i, t in enumerate(TEXTS)]
    ids = items.add_items(db, p.id, user, new, ItemLimits())
    for i, item_id in enumerate(ids[:4]):
        annotations.submit(
            db, user, item_id, AnnotationIn(value={"label": "ab"[i % 2]}, client_key=f"key-{i}-xx")
        )
    annotations.submit(db, user, ids[4], AnnotationIn(skip=True, client_key="key-skip-x"))
    annotations.submit(db, user, ids[0], AnnotationIn(value={"label": "b"}, client_key="key-edit-x"))
    return p.id


def _expected(db: Database, project_id: int, include_skipped: bool) -> list[dict]:
    return list(annotations.iter_export_rows(db, project_id, include_skipped=include_skipped))


def _from_csv(row: dict[str, str]) -> dict:
    """Decode one CSV row back to export values: every column must round-trip exactly."""

    def text(v: str) -> str | None:
        return None if v == "" else v

    return {
        "annotation_id": int(row["annotation_id"]),
        "item_id": int(row["item_id"]),
        "external_id": text(row["external_id"]),
        "text": text(row["text"]),
        "media_sha256": text(row["media_sha256"]),
        "meta": json.loads(row["meta"]),
        "annotator": row["annotator"],
        "label": text(row["label"]),
        "value": json.loads(row["value"]) if row["value"] else None,
        "skipped": row["skipped"] == "True",
        "seconds": float(row["seconds"]) if row["seconds"] else None,
        "created_at": float(row["created_at"]),
    }


@pytest.mark.parametrize("include_skipped", [False, True], ids=["answers", "with-skips"])
def test_jsonl_csv_and_parquet_agree(
    db: Database, project: int, tmp_path: Path, include_skipped: bool
) -> None:
    expected = _expected(db, project, include_skipped)
    assert len(expected) == (5 if include_skipped else 4)
    # Oldest first: the edit of the first item came last.
    assert [r["text"] for r in expected][-1] == "plain"
    assert {r["text"] for r in expected} == set(TEXTS if include_skipped else TEXTS[:4])

    jsonl = b"".join(exports.iter_export(db, project, "jsonl", include_skipped=include_skipped))
    from_jsonl = [json.loads(line) for line in jsonl.decode().splitlines()]
    assert [{k: r[k] for k in exports.EXPORT_COLUMNS} for r in from_jsonl] == expected

    text = b"".join(exports.iter_export(db, project, "csv", include_skipped=include_skipped)).decode()
    rows = list(csv.DictReader(io.StringIO(text, newline="")))
    assert [r["text"] for r in rows] == [r["text"] for r in expected]
    assert [json.loads(r["meta"]) for r in rows] == [r["meta"] for r in expected]
    assert [r["skipped"] for r in rows] == [str(r["skipped"]) for r in expected]
    assert [_from_csv(r) for r in rows] == expected

    path = tmp_path / "out.parquet"
    count = exports.export_parquet(db, project, str(path), include_skipped=include_skipped)
    table = pq.read_table(path).to_pylist()
    assert count == len(expected) == len(table)
    assert [json.loads(r["meta"]) for r in table] == [r["meta"] for r in expected]
    assert [r["value"] and json.loads(r["value"]) for r in table] == [r["value"] for r in expected]
    assert [r["skipped"] for r in table] == [r["skipped"] for r in expected]


def test_edited_answers_appear_once_as_last_edited(db: Database, project: int) -> None:
    rows = [json.loads(line) for line in b"".join(exports.iter_export(db, project, "jsonl")).splitlines()]
    first = [r for r in rows if r["external_id"] == "e0"]
    assert [r["value"] for r in first] == [{"label": "b"}]


def test_empty_project_and_bad_requests(db: Database, tmp_path: Path) -> None:
    user = auth.create_user(db, "u", "u-password").id
    p = projects.create_project(db, user, ProjectCreate(name="empty", labels=["a"]))
    assert b"".join(exports.iter_export(db, p.id, "jsonl")) == b""
    assert b"".join(exports.iter_export(db, p.id, "csv")).decode().startswith("annotation_id,item_id")
    assert exports.export_parquet(db, p.id, str(tmp_path / "e.parquet")) == 0
    assert pq.read_table(tmp_path / "e.parquet").num_rows == 0
    with pytest.raises(NotFoundError):
        exports.iter_export(db, 999, "jsonl")
    with pytest.raises(InputError):
        exports.iter_export(db, p.id, "xml")
