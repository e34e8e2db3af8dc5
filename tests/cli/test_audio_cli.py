"""``hitloop import`` of recordings and ``hitloop transcribe``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hitloop.api.context import AppContext
from hitloop.cli import cli
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


@pytest.mark.parametrize(
    ("name", "text", "line"),
    [
        ("calls.jsonl", '{"audio": "a.wav"}\n{"audio": "gone.wav"}\n', 2),
        ("calls.csv", "audio\na.wav\ngone.wav\n", 3),
    ],
)
def test_a_missing_recording_in_a_file_is_named_as_audio(
    run: Run, ctx: AppContext, tmp_path: Path, name: str, text: str, line: int
) -> None:
    project_id = _project(ctx)
    (tmp_path / "a.wav").write_bytes(encode(silence(0.3)))
    path = tmp_path / name
    path.write_text(text)
    result = run("import", project_id, path, "--audio-field", "audio", expect=2)
    gone = tmp_path / "gone.wav"
    assert result.stderr == (
        f"Error: {path}:{line}, field 'audio': the audio file 'gone.wav' is not an existing file ({gone})\n"
    )
    assert projects.get_project(ctx.db, project_id, with_stats=True).stats.total == 0  # type: ignore[union-attr]


def test_a_bad_recording_in_a_file_names_its_field(run: Run, ctx: AppContext, tmp_path: Path) -> None:
    project_id = _project(ctx)
    (tmp_path / "a.wav").write_bytes(b"RIFF but not really")
    path = tmp_path / "calls.jsonl"
    path.write_text('{"audio": "a.wav"}\n')
    result = run("import", project_id, path, "--audio-field", "audio", expect=2)
    assert result.stderr.startswith(f"Error: {path}:1, field 'audio': ")
    assert projects.get_project(ctx.db, project_id, with_stats=True).stats.total == 0  # type: ignore[union-attr]


def _simulate(*args: object, expect: int = 0) -> Any:
    """``hitloop simulate`` needs no database: run it without the fixture's --data-dir."""
    result = CliRunner().invoke(cli, ["simulate", *map(str, args)], catch_exceptions=False)
    assert result.exit_code == expect, result.output
    return result


def test_simulate_on_recordings(tmp_path: Path) -> None:
    import json

    from tests.sounds import tone

    lines = []
    for i in range(24):
        low = i % 2 == 0
        name = f"{i}.wav"
        (tmp_path / name).write_bytes(encode(tone(0.4, freq=(300 if low else 2500) + 7 * i)))
        lines.append(json.dumps({"path": name, "pitch": "low" if low else "high"}))
    (tmp_path / "tones.jsonl").write_text("\n".join(lines) + "\n")
    out = tmp_path / "report.json"
    _simulate(
        "--data", tmp_path / "tones.jsonl", "--text-field", "path", "--label-field", "pitch",
        "--modality", "audio", "--seed-labels", "4", "--batch", "2", "--budget", "8", "--repeats", "1",
        "--strategy", "random", "--json", out, "-q",
    )  # fmt: skip
    report = json.loads(out.read_text())
    assert report["setup"]["featurizer"].startswith("AudioMfcc")
    assert report["strategies"][0]["accuracy_mean"][-1] == 1.0


def test_simulate_names_a_bad_recording(tmp_path: Path) -> None:
    (tmp_path / "a.wav").write_bytes(b"not audio")
    (tmp_path / "x.jsonl").write_text(
        '{"path": "a.wav", "pitch": "low"}\n{"path": "a.wav", "pitch": "high"}\n'
    )
    result = _simulate(
        "--data", tmp_path / "x.jsonl", "--text-field", "path", "--label-field", "pitch",
        "--modality", "audio", "--seed-labels", "1", "--json", tmp_path / "r.json", expect=2,
    )  # fmt: skip
    assert f"{tmp_path / 'x.jsonl'}:1, field 'path': cannot read the recording" in result.stderr
