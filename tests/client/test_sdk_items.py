"""Adding items: JSON batches, image uploads, file imports."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from hitloop.client import Client, bodies
from hitloop.errors import InputError, NotFoundError, UnsupportedMediaError
from hitloop.schemas import ItemIn, ProjectOut

ITEMS = r"/api/projects/\d+/items"


def test_add_items_sends_batches_of_1000(sdk: Client, project: ProjectOut, transport) -> None:  # type: ignore[no-untyped-def]
    ids = sdk.add_items(project.id, (f"text {i}" for i in range(2_500)))
    assert len(ids) == len(set(ids)) == 2_500
    assert ids == sorted(ids)
    assert transport.count("POST", ITEMS) == 3
    stats = sdk.project(project.id).stats
    assert stats is not None and stats.total == 2_500
    assert sdk.item(ids[-1]).text == "text 2499"


def test_add_items_accepts_strings_dicts_and_models(sdk: Client, project: ProjectOut) -> None:
    ids = sdk.add_items(
        project.id,
        [
            "plain",
            {"text": "dict", "external_id": "d-1", "meta": {"source": "test"}},
            ItemIn(text="model", external_id="m-1"),
        ],
    )
    got = [sdk.item(i) for i in ids]
    assert [(i.text, i.external_id, i.meta) for i in got] == [
        ("plain", None, {}),
        ("dict", "d-1", {"source": "test"}),
        ("model", "m-1", {}),
    ]


def test_add_nothing_sends_nothing(sdk: Client, project: ProjectOut, transport) -> None:  # type: ignore[no-untyped-def]
    assert sdk.add_items(project.id, []) == []
    assert transport.count("POST", ITEMS) == 0


@pytest.mark.parametrize(
    ("bad", "field"),
    [("", "items[1200].text"), ({"text": "x", "colour": "red"}, "items.1200.colour")],
    ids=["empty-text", "unknown-key"],
)
def test_bad_item_field_counts_from_the_start(
    sdk: Client, project: ProjectOut, bad: object, field: str
) -> None:
    items: list[object] = [f"t{i}" for i in range(1_500)]
    items[1200] = bad
    with pytest.raises(InputError) as info:
        sdk.add_items(project.id, items)  # type: ignore[arg-type]
    assert info.value.field == field
    # Each batch is its own transaction: the first one stays.
    stats = sdk.project(project.id).stats
    assert stats is not None and stats.total == 1_000


def test_add_items_batches_by_size_too(
    sdk: Client, project: ProjectOut, transport, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(bodies, "ITEM_BATCH_BYTES", 1_000)
    texts = ["x" * 300] * 7 + ["é" * 2_000, "tail"]
    ids = sdk.add_items(project.id, texts)
    assert [sdk.item(i).text for i in ids] == texts
    # 3 + 3 + 1 items of about 310 bytes, the big one alone, then the tail.
    assert transport.count("POST", ITEMS) == 5


def test_add_items_to_unknown_project(sdk: Client) -> None:
    with pytest.raises(NotFoundError):
        sdk.add_items(999, ["x"])


def _png(path: Path, color: tuple[int, int, int]) -> Path:
    Image.new("RGB", (8, 6), color).save(path, format="PNG")
    return path


@pytest.fixture
def image_project(sdk: Client) -> ProjectOut:
    return sdk.create_project("Cats", ["cat", "dog"], modality="image")


def test_upload_images(
    sdk: Client, image_project: ProjectOut, tmp_path: Path, transport, monkeypatch: pytest.MonkeyPatch
) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(bodies, "IMAGE_BATCH_FILES", 2)
    paths = [_png(tmp_path / f"img{i}.png", (i * 40, 0, 0)) for i in range(5)]
    ids = sdk.upload_images(image_project.id, paths)
    assert len(ids) == 5
    assert transport.count("POST", r"/api/projects/\d+/images") == 3
    item = sdk.item(ids[0])
    assert item.media_url == f"/api/items/{ids[0]}/media"
    assert item.meta == {"filename": "img0.png"}
    assert sdk.media(ids[0]) == paths[0].read_bytes()
    served = sdk.next(image_project.id, count=5)
    assert [i.id for i in served] == ids


def test_upload_refuses_a_missing_file_before_sending(
    sdk: Client, image_project: ProjectOut, tmp_path: Path, transport
) -> None:  # type: ignore[no-untyped-def]
    good = _png(tmp_path / "good.png", (0, 0, 0))
    with pytest.raises(InputError) as info:
        sdk.upload_images(image_project.id, [good, tmp_path / "missing.png"])
    assert info.value.file == str(tmp_path / "missing.png")
    assert transport.count("POST", r"/api/projects/\d+/images") == 0


def test_upload_a_non_image(sdk: Client, image_project: ProjectOut, tmp_path: Path) -> None:
    fake = tmp_path / "fake.png"
    fake.write_text("not a picture")
    with pytest.raises(UnsupportedMediaError):
        sdk.upload_images(image_project.id, [fake])


def test_import_jsonl(sdk: Client, project: ProjectOut, tmp_path: Path) -> None:
    source = tmp_path / "items.jsonl"
    source.write_text("".join(json.dumps({"body": f"row {i}", "key": f"k{i}"}) + "\n" for i in range(30)))
    result = sdk.import_file(project.id, source, text_field="body", id_field="key")
    assert (result.created, result.source) == (30, "items.jsonl")
    first = sdk.next(project.id)[0]
    assert (first.text, first.external_id) == ("row 0", "k0")


def test_import_with_gold_answers(sdk: Client, project: ProjectOut, tmp_path: Path) -> None:
    source = tmp_path / "gold.jsonl"
    source.write_text('{"text": "a", "truth": "pos"}\n{"text": "b"}\n{"text": "c", "truth": "neutral"}\n')
    result = sdk.import_file(project.id, source, gold_field="truth")
    assert (result.created, result.gold) == (3, 2)
    assert [(g.text, g.value) for g in sdk.gold(project.id)] == [
        ("a", {"label": "pos"}),
        ("c", {"label": "neutral"}),
    ]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"text": "d", "truth": "positive"}\n')
    with pytest.raises(InputError) as info:
        sdk.import_file(project.id, bad, gold_field="truth")
    assert (info.value.file, info.value.line, info.value.field) == ("bad.jsonl", 1, "truth")


def test_import_csv_with_explicit_format(sdk: Client, project: ProjectOut, tmp_path: Path) -> None:
    source = tmp_path / "items.txt"
    source.write_text("text,id\nhello,a\nworld,b\n")
    assert sdk.import_file(project.id, source, format="csv", id_field="id").created == 2


def test_import_error_names_file_and_line(sdk: Client, project: ProjectOut, tmp_path: Path) -> None:
    source = tmp_path / "broken.jsonl"
    source.write_text('{"text": "ok"}\n{"text": \n')
    with pytest.raises(InputError) as info:
        sdk.import_file(project.id, source)
    assert (info.value.file, info.value.line) == ("broken.jsonl", 2)
    stats = sdk.project(project.id).stats
    assert stats is not None and stats.total == 0  # all or nothing


def test_import_unknown_extension(sdk: Client, project: ProjectOut, tmp_path: Path) -> None:
    source = tmp_path / "items.txt"
    source.write_text("hello\n")
    with pytest.raises(InputError, match="format"):
        sdk.import_file(project.id, source)


def test_import_missing_file(sdk: Client, project: ProjectOut, tmp_path: Path) -> None:
    with pytest.raises(InputError) as info:
        sdk.import_file(project.id, tmp_path / "nope.jsonl")
    assert info.value.file == str(tmp_path / "nope.jsonl")
