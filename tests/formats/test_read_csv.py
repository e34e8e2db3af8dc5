from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hitloop.errors import InputError
from hitloop.formats import ItemRecord, read_csv


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def test_reads_rows_with_the_header_as_line_one(tmp_path: Path) -> None:
    path = _write(tmp_path / "items.csv", "id,text,label,source\r\n1,hello,pos,web\r\n2,bye,,\r\n")
    records = list(read_csv(path, id_field="id", label_field="label"))
    assert records == [
        ItemRecord(line=2, text="hello", external_id="1", meta={"source": "web"}, label="pos"),
        ItemRecord(line=3, text="bye", external_id="2", meta={"source": ""}),
    ]


def test_accepts_a_bom(tmp_path: Path) -> None:
    path = _write(tmp_path / "items.csv", "text,n\nhello,1\n", encoding="utf-8-sig")
    assert [r.text for r in read_csv(path)] == ["hello"]


def test_line_is_where_the_row_starts(tmp_path: Path) -> None:
    text = 'text,n\n"two\nlines",1\n\nnext,2\n'
    path = _write(tmp_path / "items.csv", text)
    assert [(r.line, r.text) for r in read_csv(path)] == [(2, "two\nlines"), (5, "next")]


def test_missing_text_column_names_line_one_and_lists_columns(tmp_path: Path) -> None:
    path = _write(tmp_path / "items.csv", "body,label\nhello,pos\n")
    with pytest.raises(InputError) as caught:
        next(read_csv(path))
    assert (caught.value.file, caught.value.line, caught.value.field) == (str(path), 1, "text")
    assert "'body', 'label'" in caught.value.message


BAD_FILES: list[Any] = [
    pytest.param("", {}, 1, "text", "empty", id="empty-file"),
    pytest.param("text,id\na,1\n", {"id_field": "key"}, 1, "key", "no column", id="missing-id-column"),
    pytest.param("text,text\na,b\n", {}, 1, "text", "twice", id="duplicate-column"),
    pytest.param("text,n\na,1\n\nb,2,3\n", {}, 4, None, "3 cells", id="too-many-cells"),
    pytest.param("text,n\na,1\nb\n", {}, 3, None, "1 cells", id="too-few-cells"),
    pytest.param('text,n\n"a\nb",1\n,2\n', {}, 4, "text", "empty", id="empty-text-after-quoted-newline"),
    pytest.param("text,n\nabcdef,1\n", {"max_text_chars": 5}, 2, "text", "limit", id="text-too-long"),
    pytest.param('text,n\na,1\n"open,2\n', {}, 3, None, "invalid CSV", id="quote-left-open"),
    pytest.param(
        "im\nnope.png\n", {"image_field": "im"}, 2, "im", "not an existing file", id="image-missing"
    ),
]


@pytest.mark.parametrize(("text", "kwargs", "line", "field", "words"), BAD_FILES)
def test_bad_file_names_file_line_and_field(
    tmp_path: Path, text: str, kwargs: dict[str, Any], line: int, field: str | None, words: str
) -> None:
    path = _write(tmp_path / "items.csv", text)
    with pytest.raises(InputError) as caught:
        list(read_csv(path, **kwargs))
    assert (caught.value.file, caught.value.line, caught.value.field) == (str(path), line, field)
    assert words in caught.value.message


def test_invalid_utf8_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "items.csv"
    path.write_bytes(b"text\nok\n\xff\xfe\n")
    with pytest.raises(InputError, match="UTF-8"):
        list(read_csv(path))


def test_reads_image_paths(tmp_path: Path, make_image: Callable[..., Path]) -> None:
    image = make_image("pics/a.png")
    path = _write(tmp_path / "items.csv", "path,text\npics/a.png,a caption\n")
    (record,) = read_csv(path, image_field="path")
    assert (record.image_path, record.text, record.meta) == (image, None, {"text": "a caption"})
