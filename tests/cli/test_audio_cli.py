"""``hitloop import`` of recordings and ``hitloop transcribe``."""

from __future__ import annotations

from pathlib import Path

from hitloop.api.context import AppContext
from hitloop.schemas import ProjectCreate
from hitloop.services import projects, speech
from tests.cli.conftest import Run
from tests.sounds import encode, silence, speak


def _project(ctx: AppContext, task: str = "transcribe") -> int:
    labels = [] if task == "transcribe" else ["yes", "no"]
    spec = ProjectCreate(name="calls", task=task, modality="audio", labels=labels)
    return projects.create_project(ctx.db, None, spec).id


def test_folder_of_recordings_and_drafts(run: Run, ctx: AppContext, tmp_path: Path) -> None:
    project_id = _project(ctx)
    folder = tmp_path / "calls"
    folder.mkdir()
    speak("Hello world.", folder / "a.wav")
    (folder / "b.flac").write_bytes(encode(silence(0.3), format="FLAC"))
    (folder / "notes.txt").write_text("not a recording")
    result = run("import", project_id, folder)
    assert "Imported 2 items" in result.stdout
    result = run("transcribe", project_id, "--limit", "1")
    assert "Drafted 1 items" in result.stdout
    draft = speech.draft_for(ctx.db, 1)
    assert draft is not None and draft["text"] == "hello world"
    assert "Drafted 1 items" in run("transcribe", project_id).stdout


def test_transcribe_refuses_other_projects(run: Run, ctx: AppContext) -> None:
    project_id = _project(ctx, task="classify")
    result = run("transcribe", project_id, expect=2)
    assert "drafts need transcribe on audio" in result.stderr
    assert "project 99 not found" in run("transcribe", 99, expect=2).stderr


def test_broken_recording_in_a_folder_imports_nothing(run: Run, ctx: AppContext, tmp_path: Path) -> None:
    project_id = _project(ctx)
    folder = tmp_path / "calls"
    folder.mkdir()
    (folder / "a.wav").write_bytes(encode(silence(0.3)))
    (folder / "b.ogg").write_bytes(b"OggS" + b"\x00" * 200)
    result = run("import", project_id, folder, expect=2)
    assert result.stderr.startswith(f"Error: {folder}:2")
    assert projects.get_project(ctx.db, project_id, with_stats=True).stats.total == 0  # type: ignore[union-attr]
