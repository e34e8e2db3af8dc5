from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from hitloop.errors import InputError
from hitloop.formats import read_image_folder


@pytest.fixture
def folder(tmp_path: Path, make_image: Callable[..., Path]) -> Path:
    for name in ["top.png", "cats/a.png", "cats/b.JPG", "dogs/c.jpeg", "train/cats/d.webp", "e.gif"]:
        make_image(f"images/{name}")
    (tmp_path / "images" / "notes.txt").write_text("not an image", encoding="utf-8")
    (tmp_path / "images" / "cats" / "._a.png").write_bytes(b"macOS resource fork")
    make_image("images/.cache/hidden.png")
    return tmp_path / "images"


def test_class_subfolders_become_labels(folder: Path) -> None:
    records = list(read_image_folder(folder))
    assert [(r.line, r.external_id, r.label) for r in records] == [
        (1, "cats/a.png", "cats"),
        (2, "cats/b.JPG", "cats"),
        (3, "dogs/c.jpeg", "dogs"),
        (4, "e.gif", None),
        (5, "top.png", None),
        (6, "train/cats/d.webp", "cats"),
    ]
    assert records[0].image_path == folder / "cats" / "a.png"
    assert records[0].meta == {"path": "cats/a.png"}
    assert records[0].text is None


def test_not_recursive_reads_the_top_only(folder: Path) -> None:
    assert [r.external_id for r in read_image_folder(folder, recursive=False)] == ["e.gif", "top.png"]


@pytest.mark.parametrize(
    ("name", "words"),
    [
        pytest.param("missing", "no such folder", id="missing"),
        pytest.param("file.png", "not a folder", id="file"),
    ],
)
def test_source_must_be_a_folder(
    tmp_path: Path, make_image: Callable[..., Path], name: str, words: str
) -> None:
    make_image("file.png")
    with pytest.raises(InputError, match=words) as caught:
        list(read_image_folder(tmp_path / name))
    assert caught.value.file == str(tmp_path / name)
