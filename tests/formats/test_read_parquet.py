from __future__ import annotations

import base64
import datetime as dt
import sys
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from hitloop.errors import InputError
from hitloop.formats import ItemRecord, read_parquet
from hitloop.formats.arrow import require_pyarrow


def _write(path: Path, table: pa.Table) -> Path:
    pq.write_table(table, path)
    return path


def test_rows_are_numbered_across_batches(tmp_path: Path) -> None:
    table = pa.table({"text": [f"t{i}" for i in range(5)], "id": list(range(5)), "n": [1.5] * 5})
    path = _write(tmp_path / "items.parquet", table)
    records = list(read_parquet(path, id_field="id", batch_size=2))
    assert [(r.line, r.text, r.external_id) for r in records] == [(i + 1, f"t{i}", str(i)) for i in range(5)]
    assert records[0].meta == {"n": 1.5}


def test_list_labels_and_nested_meta(tmp_path: Path) -> None:
    table = pa.table({"text": ["a"], "tags": [["x", "y"]], "info": [{"k": 1}]})
    path = _write(tmp_path / "items.parquet", table)
    (record,) = read_parquet(path, label_field="tags")
    assert record == ItemRecord(line=1, text="a", label=["x", "y"], meta={"info": {"k": 1}})


def test_meta_values_json_cannot_hold_are_made_plain(tmp_path: Path) -> None:
    moment = dt.datetime(2024, 5, 1, 12, 30)
    table = pa.table(
        {
            "text": ["a"],
            "at": pa.array([moment], pa.timestamp("us")),
            "day": pa.array([moment.date()], pa.date32()),
            "price": pa.array([Decimal("1.25")], pa.decimal128(5, 2)),
            "blob": pa.array([b"\x00\x01"], pa.binary()),
            "times": pa.array([[moment]], pa.list_(pa.timestamp("us"))),
        }
    )
    (record,) = read_parquet(_write(tmp_path / "items.parquet", table))
    assert record.meta == {
        "at": "2024-05-01T12:30:00",
        "day": "2024-05-01",
        "price": "1.25",
        "blob": base64.b64encode(b"\x00\x01").decode(),
        "times": ["2024-05-01T12:30:00"],
    }


def test_missing_column_lists_the_columns(tmp_path: Path) -> None:
    path = _write(tmp_path / "items.parquet", pa.table({"body": ["a"], "label": ["x"]}))
    with pytest.raises(InputError) as caught:
        next(read_parquet(path))
    assert (caught.value.file, caught.value.line, caught.value.field) == (str(path), None, "text")
    assert "'body', 'label'" in caught.value.message


@pytest.mark.parametrize(
    ("column", "words"),
    [
        pytest.param(pa.array([1, 2, 3]), "got int", id="number"),
        pytest.param(pa.array(["a", "b", None]), "got null", id="null"),
    ],
)
def test_wrong_type_names_row_and_field(tmp_path: Path, column: pa.Array, words: str) -> None:
    path = _write(tmp_path / "items.parquet", pa.table({"text": column}))
    with pytest.raises(InputError, match=words) as caught:
        list(read_parquet(path))
    assert (caught.value.line, caught.value.field) == (1 if words == "got int" else 3, "text")


def test_not_a_parquet_file(tmp_path: Path) -> None:
    path = tmp_path / "items.parquet"
    path.write_text("text\nhello\n", encoding="utf-8")
    with pytest.raises(InputError, match="not a readable Parquet file") as caught:
        list(read_parquet(path))
    assert caught.value.file == str(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        list(read_parquet(tmp_path / "nope.parquet"))


def test_missing_pyarrow_gives_the_install_hint(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    with pytest.raises(InputError, match=r'pip install "hitloop\[parquet\]"'):
        require_pyarrow()
