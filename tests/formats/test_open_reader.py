from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from hitloop.errors import InputError
from hitloop.formats import count_records, detect_format, open_reader


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        pytest.param("a.jsonl", "jsonl", id="jsonl"),
        pytest.param("a.ndjson", "jsonl", id="ndjson"),
        pytest.param("A.JSONL", "jsonl", id="upper-case"),
        pytest.param("a.csv", "csv", id="csv"),
        pytest.param("a.parquet", "parquet", id="parquet"),
        pytest.param("a.pq", "parquet", id="pq"),
    ],
)
def test_format_from_extension(tmp_path: Path, name: str, expected: str) -> None:
    path = tmp_path / name
    path.write_bytes(b"")
    assert detect_format(path) == expected


def test_a_directory_is_an_image_folder(tmp_path: Path) -> None:
    assert detect_format(tmp_path) == "folder"


def test_unknown_extension_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "items.txt"
    path.write_text("hello", encoding="utf-8")
    with pytest.raises(InputError, match=r"'\.txt'") as caught:
        open_reader(path)
    assert caught.value.file == str(path)


def test_named_format_wins_over_the_extension(tmp_path: Path) -> None:
    path = tmp_path / "items.txt"
    path.write_text('{"body": "hello"}\n', encoding="utf-8")
    assert [r.text for r in open_reader(path, format="jsonl", text_field="body")] == ["hello"]


def test_unknown_format_name(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="unknown format") as caught:
        open_reader(tmp_path / "a.jsonl", format="xml")
    assert caught.value.field == "format"


def test_missing_path(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file") as caught:
        open_reader(tmp_path / "nope.csv")
    assert caught.value.file == str(tmp_path / "nope.csv")


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_open_reader_passes_keyword_arguments(fmt: str, make_source: Callable[..., Path]) -> None:
    path = make_source(fmt, [{"key": "k1", "body": "hello"}])
    (record,) = open_reader(path, text_field="body", id_field="key")
    assert (record.text, record.external_id, record.meta) == ("hello", "k1", {})


def test_open_reader_reads_a_folder(tmp_path: Path, make_image: Callable[..., Path]) -> None:
    make_image("pics/cats/a.png")
    assert [r.label for r in open_reader(tmp_path / "pics", recursive=True)] == ["cats"]


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_count_records(fmt: str, make_source: Callable[..., Path]) -> None:
    path = make_source(fmt, [{"text": f"row {i}"} for i in range(7)])
    assert count_records(path) == 7


def test_count_records_without_final_newline(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    path.write_text('{"text": "a"}\n{"text": "b"}', encoding="utf-8")
    assert count_records(path) == 2


def test_count_records_of_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "a.csv"
    path.write_bytes(b"")
    assert count_records(path) == 0


def test_count_records_of_a_folder(tmp_path: Path, make_image: Callable[..., Path]) -> None:
    make_image("a.png")
    make_image("b/c.jpg")
    (tmp_path / "b" / "d.txt").write_bytes(b"")
    assert count_records(tmp_path) == 2
