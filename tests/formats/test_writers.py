from __future__ import annotations

import csv
import datetime as dt
import io
import json
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hitloop.errors import InputError
from hitloop.formats import (
    CHUNK_CHARS,
    iter_csv,
    iter_jsonl,
    read_csv,
    read_jsonl,
    read_parquet,
    write_csv,
    write_jsonl,
    write_parquet,
)

ROWS: list[dict[str, Any]] = [
    {"id": "a1", "text": 'héllo, "world"\nnext line', "value": {"label": "pos"}, "score": 0.5},
    {"id": "a2", "text": "plain", "value": {"labels": ["x", "y"]}, "score": None},
    {"id": "a3", "text": "日本語", "value": None, "score": 2},
]
COLUMNS = ["id", "text", "value", "score"]


def test_jsonl_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "out.jsonl"
    with path.open("wb") as out:
        assert write_jsonl(ROWS, out) == 3
    records = list(read_jsonl(path, id_field="id"))
    assert [r.external_id for r in records] == ["a1", "a2", "a3"]
    assert [r.text for r in records] == [row["text"] for row in ROWS]
    assert records[0].meta == {"value": {"label": "pos"}, "score": 0.5}
    assert b"\xc3\xa9" in path.read_bytes()  # UTF-8, not \u escapes
    assert path.read_bytes().count(b"\n") == 3


def test_jsonl_encodes_dates_and_lone_surrogates() -> None:
    rows = [{"at": dt.datetime(2024, 5, 1, 8, 0), "text": "bad \udc80 char"}]
    (line,) = b"".join(iter_jsonl(rows)).splitlines()
    assert json.loads(line) == {"at": "2024-05-01T08:00:00", "text": "bad \udc80 char"}


def test_csv_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "out.csv"
    with path.open("wb") as out:
        assert write_csv(ROWS, out, COLUMNS) == 3
    records = list(read_csv(path, id_field="id"))
    assert [r.text for r in records] == [row["text"] for row in ROWS]
    assert [r.line for r in records] == [2, 4, 5]  # the first text holds a newline
    assert json.loads(str(records[1].meta["value"])) == {"labels": ["x", "y"]}
    assert records[1].meta["score"] == ""


def test_csv_writes_only_the_named_columns_in_order() -> None:
    rows = [{"b": 1, "a": [1, 2], "ignored": "x", "at": dt.date(2024, 1, 2)}, {}]
    text = b"".join(iter_csv(rows, ["a", "b", "at"])).decode()
    assert list(csv.reader(io.StringIO(text))) == [
        ["a", "b", "at"],
        ["[1,2]", "1", "2024-01-02"],
        ["", "", ""],
    ]


def test_csv_without_rows_is_the_header() -> None:
    assert b"".join(iter_csv([], ["a", "b"])) == b"a,b\r\n"


@pytest.mark.parametrize(
    "chunks",
    [
        pytest.param(lambda rows: iter_jsonl(rows), id="jsonl"),
        pytest.param(lambda rows: iter_csv(rows, ["id", "text"]), id="csv"),
    ],
)
def test_chunks_are_about_64k_and_end_on_a_row(chunks: Any) -> None:
    rows = ({"id": i, "text": "x" * (i % 300)} for i in range(20_000))
    sizes = []
    for chunk in chunks(rows):
        assert chunk.endswith(b"\n")
        sizes.append(len(chunk))
    assert len(sizes) > 20
    assert max(sizes) < 2 * CHUNK_CHARS
    # The first chunks are small (a quick first byte) while the size is learned.
    steady = sizes[5:-1]
    assert min(steady) > CHUNK_CHARS // 2


def test_write_jsonl_matches_iter_jsonl() -> None:
    out = io.BytesIO()
    write_jsonl(iter(ROWS), out)
    assert out.getvalue() == b"".join(iter_jsonl(ROWS))


def test_parquet_round_trip_in_batches(tmp_path: Path) -> None:
    path = tmp_path / "out.parquet"
    rows = [{"id": f"r{i}", "text": f"text {i}", "value": {"label": "a"}, "score": i} for i in range(25)]
    assert write_parquet(rows, path, batch_size=10) == 25
    assert pq.ParquetFile(path).metadata.num_row_groups == 3
    records = list(read_parquet(path, id_field="id"))
    assert [r.external_id for r in records] == [f"r{i}" for i in range(25)]
    assert records[3].meta == {"value": '{"label":"a"}', "score": 3}


def test_parquet_to_a_file_object_with_columns() -> None:
    out = io.BytesIO()
    assert write_parquet(ROWS, out, columns=["id", "value"]) == 3
    table = pq.read_table(io.BytesIO(out.getvalue()))
    assert table.column_names == ["id", "value"]
    assert table.column("value").to_pylist() == ['{"label":"pos"}', '{"labels":["x","y"]}', None]


def test_parquet_schema_keeps_list_columns() -> None:
    out = io.BytesIO()
    schema = pa.schema([("text", pa.string()), ("tags", pa.list_(pa.string())), ("meta", pa.string())])
    rows = [{"text": "a", "tags": ["x"], "meta": {"k": 1}}]
    write_parquet(rows, out, schema=schema)
    table = pq.read_table(io.BytesIO(out.getvalue()))
    assert table.to_pylist() == [{"text": "a", "tags": ["x"], "meta": '{"k":1}'}]


def test_parquet_all_null_first_batch_is_string(tmp_path: Path) -> None:
    path = tmp_path / "out.parquet"
    rows: list[dict[str, Any]] = [{"text": "a", "note": None}, {"text": "b", "note": "later"}]
    write_parquet(rows, path, batch_size=1)
    assert pq.read_table(path).column("note").to_pylist() == [None, "later"]


def test_parquet_value_that_does_not_fit_names_the_column(tmp_path: Path) -> None:
    rows: list[dict[str, Any]] = [{"text": "a", "n": 1}, {"text": "b", "n": "two"}]
    with pytest.raises(InputError, match="rows 2-2") as caught:
        write_parquet(rows, tmp_path / "out.parquet", batch_size=1)
    assert caught.value.field == "n"


def test_parquet_without_rows(tmp_path: Path) -> None:
    path = tmp_path / "out.parquet"
    assert write_parquet([], path, columns=["id", "text"]) == 0
    assert pq.read_table(path).column_names == ["id", "text"]


@settings(max_examples=60, deadline=None)
@given(values=st.lists(st.text(min_size=1), min_size=1, max_size=5))
def test_any_text_survives_jsonl_and_csv(tmp_path_factory: pytest.TempPathFactory, values: list[str]) -> None:
    folder = tmp_path_factory.mktemp("roundtrip")
    rows = [{"text": value} for value in values]
    jsonl, csvfile = folder / "a.jsonl", folder / "a.csv"
    with jsonl.open("wb") as out:
        write_jsonl(rows, out)
    with csvfile.open("wb") as out:
        write_csv(rows, out, ["text"])
    assert [r.text for r in read_jsonl(jsonl)] == values
    assert [r.text for r in read_csv(csvfile)] == values
