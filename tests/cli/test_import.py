from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from PIL import Image
from sqlalchemy import func, select

from hitloop.api.context import AppContext
from hitloop.db.tables import ImportRun, Item
from hitloop.schemas import ProjectCreate
from hitloop.services import projects
from hitloop.types import Modality
from tests.cli.conftest import Run

Write = Callable[[str, str], Path]

ROWS = [
    {"text": "The battery died in an hour.", "id": "r1", "stars": 1},
    {"text": "Lovely screen, fast, quiet.", "id": "r2", "stars": 5},
    {"text": "Okay, I guess.", "id": "r3", "stars": 3},
]


def _project(ctx: AppContext, modality: Modality = Modality.TEXT) -> int:
    spec = ProjectCreate(name="P", modality=modality, labels=["good", "bad"])
    return projects.create_project(ctx.db, None, spec).id


def _items(ctx: AppContext, project_id: int) -> list[Item]:
    """Every item row of the project, staged ones too."""
    with ctx.db.read() as s:
        return list(s.scalars(select(Item).where(Item.project_id == project_id).order_by(Item.id)))


def _source(fmt: str, directory: Path, rows: list[dict[str, object]]) -> Path:
    path = directory / f"reviews.{fmt}"
    if fmt == "jsonl":
        path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    elif fmt == "csv":
        lines = ["text,id,stars", *(f'"{r["text"]}",{r["id"]},{r["stars"]}' for r in rows)]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    else:
        pq.write_table(pa.Table.from_pylist(rows), path)
    return path


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_import_file(run: Run, ctx: AppContext, tmp_path: Path, fmt: str) -> None:
    project_id = _project(ctx)
    path = _source(fmt, tmp_path, ROWS)
    result = run("import", project_id, path, "--id-field", "id")
    assert result.stdout == f"Imported 3 items from {path}\n"
    stored = _items(ctx, project_id)
    assert [(i.text, i.external_id, i.state) for i in stored] == [(r["text"], r["id"], "open") for r in ROWS]
    stars = [i.meta["stars"] for i in stored]
    assert stars == (["1", "5", "3"] if fmt == "csv" else [1, 5, 3])  # CSV cells are strings


def test_import_with_other_field_names(run: Run, ctx: AppContext, write: Write) -> None:
    project_id = _project(ctx)
    path = write("data.txt", '{"body": "hello"}\n{"body": "world"}\n')
    run("import", project_id, path, "--format", "jsonl", "--text-field", "body", "--quiet")
    assert [i.text for i in _items(ctx, project_id)] == ["hello", "world"]


def test_malformed_line_imports_nothing(run: Run, ctx: AppContext, write: Write) -> None:
    project_id = _project(ctx)
    path = write(
        "data.jsonl", '{"text": "fine"}\n{"text": "also fine"}\n{"text": 3}\n{"text": "never read"}\n'
    )
    result = run("import", project_id, path, expect=2)
    assert result.stderr == f"Error: {path}:3, field 'text': the field 'text' must be a string, got int\n"
    assert result.stdout == ""
    assert _items(ctx, project_id) == []  # not even staged rows are left
    with ctx.db.read() as s:
        assert s.scalar(select(ImportRun.state)) == "failed"


def test_error_names_the_file_as_given(
    run: Run, ctx: AppContext, write: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    project_id = _project(ctx)
    path = write("data.jsonl", '{"text": "ok"}\n{"text": "ok", \n')
    monkeypatch.chdir(path.parent)
    result = run("import", project_id, "data.jsonl", expect=2)
    assert result.stderr.startswith("Error: data.jsonl:2: invalid JSON")


def test_failure_after_a_full_batch_imports_nothing(
    run: Run, ctx: AppContext, write: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HITLOOP_IMPORT_BATCH_SIZE", "2")
    project_id = _project(ctx)
    path = write("data.jsonl", "".join(f'{{"text": "row {i}"}}\n' for i in range(5)) + '{"nope": 1}\n')
    result = run("import", project_id, path, expect=2)
    assert result.stderr == f"Error: {path}:6, field 'text': the field 'text' is missing\n"
    assert _items(ctx, project_id) == []


def test_csv_without_the_text_column(run: Run, ctx: AppContext, write: Write) -> None:
    project_id = _project(ctx)
    path = write("data.csv", "body,id\nhello,1\n")
    result = run("import", project_id, path, expect=2)
    assert result.stderr == (
        f"Error: {path}:1, field 'text': the header has no column 'text'; the columns are 'body', 'id'\n"
    )
    assert _items(ctx, project_id) == []


def test_unknown_project(run: Run, write: Write) -> None:
    result = run("import", 9, write("data.jsonl", '{"text": "x"}\n'), expect=2)
    assert result.stderr == "Error: field 'project_id': project 9 not found\n"


def test_missing_file(run: Run, ctx: AppContext, tmp_path: Path) -> None:
    result = run("import", _project(ctx), tmp_path / "nope.jsonl", expect=2)
    assert "does not exist" in result.stderr


def _png(path: Path, color: int) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (4, 3), color).save(path)
    return path


def test_import_folder_of_images(run: Run, ctx: AppContext, tmp_path: Path) -> None:
    project_id = _project(ctx, Modality.IMAGE)
    folder = tmp_path / "pictures"
    _png(folder / "cats" / "a.png", 10)
    _png(folder / "dogs" / "b.png", 200)
    _png(folder / "c.png", 10)  # the same bytes as cats/a.png: stored once
    (folder / "notes.txt").write_text("not an image")
    result = run("import", project_id, folder)
    assert result.stdout == f"Imported 3 items from {folder}\n"
    stored = _items(ctx, project_id)
    assert [(i.external_id, i.meta["path"]) for i in stored] == [
        ("c.png", "c.png"),
        ("cats/a.png", "cats/a.png"),
        ("dogs/b.png", "dogs/b.png"),
    ]
    shas = {i.media_sha256 for i in stored}
    assert len(shas) == 2
    assert all(sha is not None and ctx.media.exists(sha) for sha in shas)


def test_import_image_paths_from_jsonl(run: Run, ctx: AppContext, tmp_path: Path, write: Write) -> None:
    project_id = _project(ctx, Modality.IMAGE)
    _png(tmp_path / "img" / "one.png", 0)
    path = write("images.jsonl", '{"file": "img/one.png", "split": "train"}\n')
    run("import", project_id, path, "--image-field", "file")
    (item,) = _items(ctx, project_id)
    assert item.meta == {"split": "train"}
    assert item.media_sha256 is not None and ctx.media.exists(item.media_sha256)


def test_broken_image_imports_nothing(run: Run, ctx: AppContext, tmp_path: Path) -> None:
    project_id = _project(ctx, Modality.IMAGE)
    folder = tmp_path / "pictures"
    _png(folder / "a.png", 10)
    (folder / "b.png").write_bytes(b"\x89PNG\r\n\x1a\n not really")
    result = run("import", project_id, folder, expect=2)
    assert result.stderr.startswith(f"Error: {folder}:2")
    assert _items(ctx, project_id) == []


def test_folder_into_a_text_project(run: Run, ctx: AppContext, tmp_path: Path) -> None:
    project_id = _project(ctx)
    _png(tmp_path / "pictures" / "a.png", 10)
    result = run("import", project_id, tmp_path / "pictures", expect=2)
    assert "a folder of images needs an image project" in result.stderr


def test_imports_add_up(ctx: AppContext, run: Run, write: Write) -> None:
    project_id = _project(ctx)
    run("import", project_id, write("a.jsonl", '{"text": "x"}\n'))
    run("import", project_id, write("b.jsonl", '{"text": "y"}\n{"text": "z"}\n'))
    with ctx.db.read() as s:
        assert s.scalar(select(func.count()).select_from(Item)) == 3


def test_import_with_gold_answers(run: Run, ctx: AppContext, write: Write) -> None:
    project_id = _project(ctx)
    path = write("gold.csv", "text,truth\nlovely,good\nmeh,\nbroken,bad\n")
    result = run("import", project_id, path, "--gold-field", "truth")
    assert result.stdout == f"Imported 3 items from {path} (2 of them gold)\n"
    assert [(i.text, i.state, i.gold) for i in _items(ctx, project_id)] == [
        ("lovely", "gold", {"label": "good"}),
        ("meh", "open", None),
        ("broken", "gold", {"label": "bad"}),
    ]


@pytest.mark.parametrize(
    ("name", "content", "where", "message"),
    [
        (
            "gold.jsonl",
            '{"text": "a", "truth": "good"}\n{"text": "b", "truth": "great"}\n',
            2,
            "unknown label 'great'; the project's labels are 'good', 'bad'",
        ),
        ("gold.csv", "text\nlovely\n", 1, "the header has no column 'truth'; the columns are 'text'"),
    ],
    ids=["unknown label", "no such column"],
)
def test_bad_gold_answers_import_nothing(
    run: Run, ctx: AppContext, write: Write, name: str, content: str, where: int, message: str
) -> None:
    project_id = _project(ctx)
    path = write(name, content)
    result = run("import", project_id, path, "--gold-field", "truth", expect=2)
    assert result.stderr == f"Error: {path}:{where}, field 'truth': {message}\n"
    assert _items(ctx, project_id) == []


def test_gold_field_with_a_folder(run: Run, ctx: AppContext, tmp_path: Path) -> None:
    project_id = _project(ctx, Modality.IMAGE)
    _png(tmp_path / "pictures" / "a.png", 10)
    result = run("import", project_id, tmp_path / "pictures", "--gold-field", "x", expect=2)
    assert "field 'gold_field': a folder of files has no fields" in result.stderr
    assert _items(ctx, project_id) == []
