from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from hitloop.api.context import AppContext
from hitloop.schemas import AnnotationIn, ProjectCreate
from hitloop.services import annotations as annotation_service
from hitloop.services import auth, projects, queue
from tests.cli.conftest import Run

TEXTS = ["great phone", "awful battery", "fine screen", "broken on arrival"]
ANSWERS = {"great phone": "good", "awful battery": "bad", "broken on arrival": "bad"}


@pytest.fixture
def project_id(run: Run, ctx: AppContext, write: Callable[[str, str], Path]) -> int:
    """A project with four imported items, three of them labeled and one skipped."""
    pid = projects.create_project(ctx.db, None, ProjectCreate(name="P", labels=["good", "bad"])).id
    source = write("in.jsonl", "".join(json.dumps({"text": t, "id": t[:5]}) + "\n" for t in TEXTS))
    run("import", pid, source, "--id-field", "id")
    user = auth.create_user(ctx.db, "ann", "ann-password")
    for n, item in enumerate(queue.next_items(ctx.db, pid, user.id, count=4)):
        label = ANSWERS.get(item.text or "")
        body = (
            AnnotationIn(value={"label": label}, client_key=f"key-{n:04d}")
            if label
            else AnnotationIn(skip=True, client_key=f"key-{n:04d}")
        )
        annotation_service.submit(ctx.db, user.id, item.id, body)
    return pid


def _read(fmt: str, path: Path) -> list[dict[str, object]]:
    if fmt == "jsonl":
        return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    if fmt == "csv":
        return list(csv.DictReader(io.StringIO(path.read_text(encoding="utf-8"), newline="")))
    return pq.read_table(path).to_pylist()


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_round_trip(run: Run, project_id: int, tmp_path: Path, fmt: str) -> None:
    out = tmp_path / f"labels.{fmt}"
    result = run("export", project_id, "-o", out)  # the format comes from the extension
    assert result.stdout == f"Exported 3 annotations to {out}\n"
    rows = _read(fmt, out)
    assert {r["text"]: r["label"] for r in rows} == ANSWERS
    assert {r["external_id"] for r in rows} == {t[:5] for t in ANSWERS}
    assert {r["annotator"] for r in rows} == {"ann"}
    assert list(rows[0]) == annotation_service.EXPORT_COLUMNS
    value = rows[0]["value"]
    assert (value if fmt == "jsonl" else json.loads(str(value))) == {"label": rows[0]["label"]}
    assert not list(tmp_path.glob(".*partial"))


def test_include_skipped(run: Run, project_id: int, tmp_path: Path) -> None:
    out = tmp_path / "all.jsonl"
    run("export", project_id, "-o", out, "--include-skipped")
    rows = _read("jsonl", out)
    assert len(rows) == 4
    assert [r["text"] for r in rows if r["skipped"]] == ["fine screen"]


def test_export_to_stdout(run: Run, project_id: int) -> None:
    result = run("export", project_id, "--format", "csv", "-o", "-")
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 3
    assert result.stderr == "Exported 3 annotations to standard output\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--format", "parquet", "-o", "-"], "Parquet cannot be written to standard output"),
        (["-o", "-"], "give --format when writing to standard output"),
        (["-o", "labels.xlsx"], "cannot tell the format from 'labels.xlsx'"),
    ],
    ids=["parquet-stdout", "stdout-no-format", "unknown-extension"],
)
def test_bad_output(run: Run, project_id: int, args: list[str], message: str) -> None:
    result = run("export", project_id, *args, expect=2)
    assert message in result.stderr


def test_unwritable_output(run: Run, project_id: int, tmp_path: Path) -> None:
    out = tmp_path / "missing-dir" / "labels.csv"
    result = run("export", project_id, "-o", out, expect=2)
    assert result.stderr.startswith(f"Error: {out}: cannot write the file")


def test_unknown_project(run: Run, tmp_path: Path) -> None:
    result = run("export", 5, "-o", tmp_path / "x.csv", expect=2)
    assert result.stderr == "Error: field 'project_id': project 5 not found\n"
    assert not (tmp_path / "x.csv").exists()
