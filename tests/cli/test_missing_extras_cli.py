"""Commands that need an optional extra say which one, without a traceback, and change nothing."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import func, select

from hitloop.api.context import AppContext
from hitloop.db.tables import Item, Suggestion
from hitloop.schemas import ProjectCreate
from hitloop.services import projects
from hitloop.types import Modality, TaskType
from tests.cli.conftest import Run
from tests.sounds import encode, silence


def _count(ctx: AppContext, table: type[Item] | type[Suggestion]) -> int:
    with ctx.db.read() as s:
        return int(s.scalar(select(func.count()).select_from(table)) or 0)


def test_faces_without_opencv(
    run: Run, ctx: AppContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = ProjectCreate(name="faces", task=TaskType.BOXES, modality=Modality.IMAGE, labels=["face"])
    pid = projects.create_project(ctx.db, None, spec).id
    folder = tmp_path / "photos"
    folder.mkdir()
    Image.new("RGB", (120, 80), "white").save(folder / "wall.png")
    run("import", pid, folder, "--quiet")
    monkeypatch.setitem(sys.modules, "cv2", None)
    result = run("faces", pid, expect=2)
    assert result.stderr == (
        "Error: face detection needs OpenCV: pip install 'hitloop[images]' (opencv-python-headless<5)\n"
    )
    assert _count(ctx, Suggestion) == 0


def test_transcribe_without_pocketsphinx(
    run: Run, ctx: AppContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = ProjectCreate(name="calls", task="transcribe", modality="audio", labels=[])
    pid = projects.create_project(ctx.db, None, spec).id
    folder = tmp_path / "calls"
    folder.mkdir()
    (folder / "a.wav").write_bytes(encode(silence(0.5)))
    run("import", pid, folder, "--quiet")
    monkeypatch.setitem(sys.modules, "pocketsphinx", None)
    result = run("transcribe", pid, expect=2)
    assert result.stderr == (
        "Error: speech drafts need the pocketsphinx package: pip install 'hitloop[speech]'\n"
    )
    assert _count(ctx, Suggestion) == 0


def test_dicom_import_without_pydicom(
    run: Run, ctx: AppContext, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = ProjectCreate(name="scans", modality=Modality.IMAGE, labels=["a", "b"])
    pid = projects.create_project(ctx.db, None, spec).id
    scan = tmp_path / "a.dcm"
    scan.write_bytes(b"\0" * 128 + b"DICM" + b"\0" * 64)
    monkeypatch.setitem(sys.modules, "pydicom", None)
    result = run("dicom", "import", pid, scan, expect=2)
    assert result.stderr == "Error: DICOM import needs pydicom: pip install 'hitloop[dicom]'\n"
    assert _count(ctx, Item) == 0
