"""Exports: to a file in each format, or streamed as rows; and back in again."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import httpx
import pytest

from hitloop.client import Client, ConnectionFailedError
from hitloop.schemas import ProjectOut

EXPORT = r"/api/projects/\d+/export"


@pytest.fixture
def out_dir(tmp_path: Path) -> Path:
    """An empty directory of its own (the test database lives in ``tmp_path``)."""
    path = tmp_path / "out"
    path.mkdir()
    return path


@pytest.fixture
def labeled(sdk: Client, project: ProjectOut) -> dict[str, str]:
    """Three answered items and one skipped; returns text -> label."""
    texts = {"good film": "pos", "dull film": "neg", "a film, yes": "neutral", "???": ""}
    ids = sdk.add_items(project.id, [{"text": t, "external_id": f"e{i}"} for i, t in enumerate(texts)])
    sdk.next(project.id, count=len(ids))
    sdk.next(project.id, count=len(ids))
    for item_id, label in zip(ids, texts.values(), strict=True):
        if label:
            sdk.submit(item_id, label=label)
        else:
            sdk.submit(item_id, skip=True)
    return {t: label for t, label in texts.items() if label}


def test_export_jsonl_to_a_file(
    sdk: Client, project: ProjectOut, labeled: dict[str, str], out_dir: Path
) -> None:
    path = sdk.export(project.id, path=out_dir / "out.jsonl")
    assert path == out_dir / "out.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert {r["text"]: r["label"] for r in rows} == labeled
    assert {r["annotator"] for r in rows} == {"admin"}
    assert list(out_dir.iterdir()) == [path]  # no partial file left behind


def test_export_csv_to_a_file(
    sdk: Client, project: ProjectOut, labeled: dict[str, str], out_dir: Path
) -> None:
    path = sdk.export(project.id, "csv", out_dir / "out.csv", include_skipped=True)
    with path.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert {r["text"]: r["label"] for r in rows if r["skipped"] == "False"} == labeled
    assert [r["external_id"] for r in rows if r["skipped"] == "True"] == ["e3"]


def test_export_parquet_to_a_file(
    sdk: Client, project: ProjectOut, labeled: dict[str, str], out_dir: Path
) -> None:
    pq = pytest.importorskip("pyarrow.parquet")
    table = pq.read_table(sdk.export(project.id, "parquet", out_dir / "out.parquet"))
    assert (
        dict(zip(table.column("text").to_pylist(), table.column("label").to_pylist(), strict=True)) == labeled
    )


def test_export_default_path(
    sdk: Client, project: ProjectOut, labeled: dict[str, str], out_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(out_dir)
    assert sdk.export(project.id) == Path(f"project-{project.id}.jsonl")
    assert len((out_dir / f"project-{project.id}.jsonl").read_text().splitlines()) == 3


def test_iter_export_streams_rows(sdk: Client, project: ProjectOut, labeled: dict[str, str]) -> None:
    rows = list(sdk.iter_export(project.id))
    assert {r["text"]: r["label"] for r in rows} == labeled
    assert len(list(sdk.iter_export(project.id, include_skipped=True))) == 4


def test_jsonl_round_trip(sdk: Client, project: ProjectOut, labeled: dict[str, str], out_dir: Path) -> None:
    exported = sdk.export(project.id, path=out_dir / "labeled.jsonl")
    copy = sdk.create_project("Copy", project.labels)
    result = sdk.import_file(copy.id, exported, id_field="external_id")
    assert result.created == 3
    answered = sdk.label_loop(copy.id, lambda item: labeled[item.text or ""])
    assert answered == 3
    again = {r["text"]: (r["label"], r["external_id"]) for r in sdk.iter_export(copy.id)}
    original = {r["text"]: (r["label"], r["external_id"]) for r in sdk.iter_export(project.id)}
    assert again == original


def test_failed_download_leaves_no_file(
    sdk: Client,
    project: ProjectOut,
    labeled: dict[str, str],
    out_dir: Path,
    transport,  # type: ignore[no-untyped-def]
) -> None:
    transport.fail("GET", EXPORT, httpx.ReadError, times=4)
    with pytest.raises(ConnectionFailedError):
        sdk.export(project.id, path=out_dir / "out.jsonl")
    assert list(out_dir.iterdir()) == []


def test_export_is_retried(
    sdk: Client,
    project: ProjectOut,
    labeled: dict[str, str],
    out_dir: Path,
    transport,  # type: ignore[no-untyped-def]
) -> None:
    transport.fail("GET", EXPORT, 503, times=2)
    path = sdk.export(project.id, path=out_dir / "out.jsonl")
    assert len(path.read_text().splitlines()) == 3


def test_broken_stream_mid_body(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken(httpx.SyncByteStream):
        def __iter__(self):  # type: ignore[no-untyped-def]
            yield b'{"text": "one"}\n'
            raise httpx.ReadError("connection reset")

    transport = httpx.MockTransport(lambda r: httpx.Response(200, stream=Broken()))
    with Client("http://testserver", "t", transport=transport) as c:
        rows = c.iter_export(1)
        assert next(rows) == {"text": "one"}
        with pytest.raises(ConnectionFailedError, match="ReadError"):
            next(rows)
