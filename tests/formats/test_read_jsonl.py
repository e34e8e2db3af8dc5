from __future__ import annotations

import json
import tracemalloc
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from hitloop.errors import InputError
from hitloop.formats import ItemRecord, read_jsonl


def _write(path: Path, *lines: str) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_reads_text_id_label_and_meta(tmp_path: Path) -> None:
    path = _write(
        tmp_path / "items.jsonl",
        '{"id": 7, "text": "hello", "label": "pos", "source": "web", "tags": ["a"]}',
        "",
        '{"id": "x-2", "text": "bye", "label": ["a", "b"]}',
        '{"text": "no id"}',
    )
    records = list(read_jsonl(path, id_field="id", label_field="label"))
    assert records == [
        ItemRecord(line=1, text="hello", external_id="7", meta={"source": "web", "tags": ["a"]}, label="pos"),
        ItemRecord(line=3, text="bye", external_id="x-2", label=["a", "b"]),
        ItemRecord(line=4, text="no id"),
    ]


def test_unnamed_id_and_label_stay_in_meta(tmp_path: Path) -> None:
    path = _write(tmp_path / "items.jsonl", '{"id": 1, "body": "hi", "label": "pos"}')
    (record,) = read_jsonl(path, text_field="body")
    assert (record.text, record.external_id, record.label) == ("hi", None, None)
    assert record.meta == {"id": 1, "label": "pos"}


def test_accepts_bom_and_crlf(tmp_path: Path) -> None:
    path = tmp_path / "items.jsonl"
    path.write_bytes(b'\xef\xbb\xbf{"text": "one"}\r\n{"text": "two"}\r\n')
    assert [(r.line, r.text) for r in read_jsonl(path)] == [(1, "one"), (2, "two")]


def test_last_line_without_newline(tmp_path: Path) -> None:
    path = tmp_path / "items.jsonl"
    path.write_text('{"text": "one"}\n{"text": "two"}', encoding="utf-8")
    assert [r.text for r in read_jsonl(path)] == ["one", "two"]


BAD_LINES: list[Any] = [
    pytest.param('{"text": "ok"', {}, None, "invalid JSON", id="bad-json"),
    pytest.param('["text"]', {}, None, "expected a JSON object", id="not-an-object"),
    pytest.param('{"body": "x"}', {}, "text", "missing", id="missing-text"),
    pytest.param('{"text": 3}', {}, "text", "got int", id="text-number"),
    pytest.param('{"text": null}', {}, "text", "got null", id="text-null"),
    pytest.param('{"text": ""}', {}, "text", "empty", id="text-empty"),
    pytest.param(
        '{"text": "abcdef"}', {"max_text_chars": 5}, "text", "more than the limit", id="text-too-long"
    ),
    pytest.param('{"text": "a", "id": 1.5}', {"id_field": "id"}, "id", "got float", id="id-float"),
    pytest.param('{"text": "a", "id": true}', {"id_field": "id"}, "id", "got bool", id="id-bool"),
    pytest.param('{"text": "a", "y": 3}', {"label_field": "y"}, "y", "got int", id="label-number"),
    pytest.param(
        '{"text": "a", "y": ["a", 1]}', {"label_field": "y"}, "y", "got list", id="label-mixed-list"
    ),
    pytest.param(
        '{"im": "nope.png"}', {"image_field": "im"}, "im", "not an existing file", id="image-missing"
    ),
    pytest.param('{"im": 5}', {"image_field": "im"}, "im", "got int", id="image-not-string"),
    pytest.param('{"text": "a"}', {"image_field": "im"}, "im", "missing", id="image-field-missing"),
]


@pytest.mark.parametrize(("bad", "kwargs", "field", "words"), BAD_LINES)
def test_bad_line_three_names_file_line_and_field(
    tmp_path: Path, bad: str, kwargs: dict[str, Any], field: str | None, words: str
) -> None:
    path = _write(tmp_path / "items.jsonl", '{"text": "a"}', "", bad, '{"text": "after"}')
    if "image_field" in kwargs:
        (tmp_path / "a.png").write_bytes(b"x")
        path = _write(tmp_path / "items.jsonl", '{"im": "a.png"}', "", bad)
    reader = read_jsonl(path, **kwargs)
    assert next(reader).line == 1
    with pytest.raises(InputError) as caught:
        next(reader)
    assert (caught.value.file, caught.value.line, caught.value.field) == (str(path), 3, field)
    assert words in caught.value.message


def test_invalid_utf8_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "items.jsonl"
    path.write_bytes(b'{"text": "a"}\n{"text": "\xff"}\n')
    with pytest.raises(InputError, match="UTF-8") as caught:
        list(read_jsonl(path))
    assert caught.value.file == str(path)


def test_missing_file_is_an_input_error(tmp_path: Path) -> None:
    path = tmp_path / "nope.jsonl"
    with pytest.raises(InputError, match="no such file") as caught:
        list(read_jsonl(path))
    assert caught.value.file == str(path)


def test_images_resolve_relative_to_the_file(tmp_path: Path, make_image: Callable[..., Path]) -> None:
    image = make_image("data/pics/a.png")
    elsewhere = make_image("other/b.png")
    path = _write(
        tmp_path / "data" / "items.jsonl",
        json.dumps({"im": "pics/a.png", "text": "caption"}),
        json.dumps({"im": str(elsewhere)}),
    )
    records = list(read_jsonl(path, image_field="im"))
    assert [r.image_path for r in records] == [image, elsewhere]
    assert records[0].text is None
    assert records[0].meta == {"text": "caption"}


def test_images_resolve_relative_to_base_dir(tmp_path: Path, make_image: Callable[..., Path]) -> None:
    image = make_image("store/a.png")
    path = _write(tmp_path / "items.jsonl", '{"im": "a.png"}')
    (record,) = read_jsonl(path, image_field="im", base_dir=tmp_path / "store")
    assert record.image_path == image


def test_image_path_must_be_a_regular_file(tmp_path: Path) -> None:
    (tmp_path / "folder.png").mkdir()
    path = _write(tmp_path / "items.jsonl", '{"im": "folder.png"}')
    with pytest.raises(InputError) as caught:
        list(read_jsonl(path, image_field="im"))
    assert (caught.value.line, caught.value.field) == (1, "im")


def test_streams_a_large_file(tmp_path: Path) -> None:
    # The last line is broken: a reader that parsed everything up front would
    # fail before handing out the first record.
    path = tmp_path / "big.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        for i in range(200_000):
            handle.write(f'{{"id": {i}, "text": "row {i}"}}\n')
        handle.write("{broken\n")
    reader = read_jsonl(path, id_field="id")
    assert isinstance(reader, Iterator)
    assert next(reader).external_id == "0"
    count = 1
    with pytest.raises(InputError) as caught:
        for _ in reader:
            count += 1
    assert count == 200_000
    assert caught.value.line == 200_001


def test_memory_stays_flat(tmp_path: Path) -> None:
    path = tmp_path / "big.jsonl"
    text = "x" * 200
    path.write_text("".join(f'{{"text": "{text} {i}"}}\n' for i in range(20_000)), encoding="utf-8")
    tracemalloc.start()
    try:
        count = sum(1 for _ in read_jsonl(path))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 20_000
    assert peak < path.stat().st_size // 4  # the file is about 4.5 MB
