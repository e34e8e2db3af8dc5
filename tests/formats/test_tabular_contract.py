"""One contract for the three tabular readers: the same rows give the same records and errors."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from hitloop.errors import InputError
from hitloop.formats import open_reader

# The line of the first data row: CSV has a header.
FIRST_LINE = {"jsonl": 1, "csv": 2, "parquet": 1}
FORMATS = pytest.mark.parametrize("fmt", list(FIRST_LINE))


@FORMATS
def test_same_rows_same_records(fmt: str, make_source: Callable[..., Path]) -> None:
    rows = [
        {"key": "a", "text": "first", "gold": "pos", "lang": "en"},
        {"key": "b", "text": "second", "gold": "", "lang": "fr"},
    ]
    records = list(open_reader(make_source(fmt, rows), id_field="key", label_field="gold"))
    first = FIRST_LINE[fmt]
    assert [(r.line, r.text, r.external_id, r.label, r.meta) for r in records] == [
        (first, "first", "a", "pos", {"lang": "en"}),
        (first + 1, "second", "b", None, {"lang": "fr"}),
    ]


@FORMATS
def test_images_resolve_the_same_way(
    fmt: str, make_source: Callable[..., Path], make_image: Callable[..., Path]
) -> None:
    image = make_image("pics/a.png")
    (record,) = open_reader(make_source(fmt, [{"image": "pics/a.png"}]), image_field="image")
    assert (record.image_path, record.text) == (image, None)


BAD_ROWS: list[Any] = [
    pytest.param([{"body": "a"}, {"body": "b"}], {}, "text", id="no-text-field"),
    pytest.param([{"text": "a", "k": "1"}, {"text": "", "k": "2"}], {}, "text", id="empty-text"),
    pytest.param([{"text": "a"}, {"text": "x" * 11}], {"max_text_chars": 10}, "text", id="text-too-long"),
    pytest.param([{"im": "missing.png"}], {"image_field": "im"}, "im", id="missing-image"),
    pytest.param([{"text": "a"}], {"id_field": "key"}, None, id="no-id-field-is-fine"),
]


@FORMATS
@pytest.mark.parametrize(("rows", "kwargs", "field"), BAD_ROWS)
def test_same_rows_same_error_field(
    fmt: str,
    make_source: Callable[..., Path],
    rows: list[dict[str, Any]],
    kwargs: dict[str, Any],
    field: str | None,
) -> None:
    path = make_source(fmt, rows)
    if field is None:
        if fmt == "jsonl":  # a JSONL row may omit the id; a CSV or Parquet file must have the column
            assert [r.external_id for r in open_reader(path, **kwargs)] == [None]
            return
        field = kwargs["id_field"]
    with pytest.raises(InputError) as caught:
        list(open_reader(path, **kwargs))
    assert (caught.value.file, caught.value.field) == (str(path), field)
