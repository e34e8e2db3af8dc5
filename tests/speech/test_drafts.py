"""Recognizer drafts on real (synthesized) speech, stored per item and compared with people's transcripts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hitloop.api.context import AppContext
from hitloop.errors import InputError
from hitloop.ml.recognizer import PocketSphinxRecognizer
from hitloop.ml.speech import word_errors
from hitloop.schemas import AnnotationIn, ProjectCreate
from hitloop.services import items, projects, speech
from hitloop.services.annotations import submit
from tests import sounds
from tests.sounds import SENTENCE, encode, silence, speak

voice = sounds.voice
recognizer = sounds.recognizer


def _transcribe_project(ctx: AppContext) -> int:
    return projects.create_project(
        ctx.db, None, ProjectCreate(name="dictation", task="transcribe", modality="audio", labels=[])
    ).id


def test_drafts_are_stored_and_measured(  # type: ignore[no-untyped-def]
    ctx: AppContext,
    admin,
    voice: np.ndarray,
    recognizer: PocketSphinxRecognizer,
) -> None:
    project_id = _transcribe_project(ctx)
    short = items.add_audio(
        ctx.db, ctx.media, project_id, None, encode(voice), filename="short.wav", limits=ctx.limits
    )
    pause = silence(1.0, seed=4)
    long_audio = encode(np.concatenate([voice, pause, voice]))
    long = items.add_audio(
        ctx.db, ctx.media, project_id, None, long_audio, filename="long.wav", limits=ctx.limits
    )

    seen: list[tuple[int, int]] = []
    made = speech.transcribe_project(
        ctx.db,
        ctx.media,
        project_id,
        recognizer=recognizer,
        long_s=6.0,
        progress=lambda d, t: seen.append((d, t)),
    )
    assert made == 2 and seen == [(1, 2), (2, 2)]
    # A second run has nothing left to do.
    assert speech.transcribe_project(ctx.db, ctx.media, project_id, recognizer=recognizer) == 0

    short_draft = speech.draft_for(ctx.db, short)
    assert short_draft is not None and "segments" not in short_draft
    assert word_errors(SENTENCE, short_draft["text"]) <= 3
    word, confidence, start, end = short_draft["words"][0]
    assert isinstance(word, str) and 0 <= confidence <= 1 and start < end

    long_draft = speech.audio_info(ctx.db, ctx.media, long).draft
    assert long_draft is not None and len(long_draft["segments"]) == 2
    # The draft is itself a valid transcribe value.
    value = {"text": long_draft["text"], "segments": long_draft["segments"]}
    submit(ctx.db, admin.id, long, AnnotationIn(value=value, client_key="long-0001"))
    submit(ctx.db, admin.id, short, AnnotationIn(value={"text": SENTENCE}, client_key="short-0001"))

    stats = speech.transcript_stats(ctx.db, project_id)
    assert stats.transcripts == 2
    assert stats.words == len(SENTENCE.split()) + len(long_draft["text"].split())
    assert stats.word_errors == word_errors(SENTENCE, short_draft["text"])
    assert stats.wer == pytest.approx(stats.word_errors / stats.words)
    assert 0.5 < (stats.keystrokes_saved or 0) <= 1.0


def test_drafts_need_a_transcribe_project(ctx: AppContext) -> None:
    project_id = projects.create_project(
        ctx.db, None, ProjectCreate(name="c", task="classify", modality="audio", labels=["a", "b"])
    ).id
    with pytest.raises(InputError, match="transcribe on audio"):
        speech.transcribe_project(ctx.db, ctx.media, project_id)


def test_import_a_jsonl_of_recordings(ctx: AppContext, tmp_path: Path) -> None:
    from hitloop.formats import open_reader

    project_id = _transcribe_project(ctx)
    (tmp_path / "a.flac").write_bytes(encode(silence(0.5), format="FLAC"))
    (tmp_path / "b.ogg").write_bytes(encode(silence(0.7), format="OGG"))
    (tmp_path / "calls.jsonl").write_text('{"audio": "a.flac"}\n{"audio": "b.ogg", "caller": "x"}\n')
    reader = open_reader(tmp_path / "calls.jsonl", image_field="audio")
    result = items.import_records(
        ctx.db, ctx.media, project_id, None, reader, source="calls.jsonl", limits=ctx.limits
    )
    assert result.created == 2
    with ctx.db.read() as s:
        from sqlalchemy import text

        durations = sorted(s.execute(text("SELECT duration FROM media")).scalars())
    assert durations == pytest.approx([0.5, 0.7], abs=0.01)


def test_a_bad_recording_imports_nothing(ctx: AppContext, tmp_path: Path) -> None:
    from hitloop.errors import UnsupportedMediaError
    from hitloop.formats import open_reader

    project_id = _transcribe_project(ctx)
    (tmp_path / "a.wav").write_bytes(encode(silence(0.5)))
    (tmp_path / "b.wav").write_bytes(b"RIFF but not really")
    (tmp_path / "calls.jsonl").write_text('{"audio": "a.wav"}\n{"audio": "b.wav"}\n')
    reader = open_reader(tmp_path / "calls.jsonl", image_field="audio")
    with pytest.raises(UnsupportedMediaError) as caught:
        items.import_records(
            ctx.db, ctx.media, project_id, None, reader, source="calls.jsonl", limits=ctx.limits
        )
    assert (caught.value.file, caught.value.line) == ("calls.jsonl", 2)
    assert projects.get_project(ctx.db, project_id, with_stats=True).stats.total == 0  # type: ignore[union-attr]


def test_an_oversized_recording_is_named_as_audio_with_its_field(ctx: AppContext, tmp_path: Path) -> None:
    import dataclasses

    from hitloop.errors import PayloadTooLargeError
    from hitloop.formats import open_reader

    project_id = _transcribe_project(ctx)
    (tmp_path / "a.wav").write_bytes(encode(silence(0.5)))
    (tmp_path / "calls.jsonl").write_text('{"audio": "a.wav"}\n')
    reader = open_reader(tmp_path / "calls.jsonl", image_field="audio", media="audio")
    limits = dataclasses.replace(ctx.limits, max_upload_bytes=100)
    with pytest.raises(PayloadTooLargeError) as caught:
        items.import_records(
            ctx.db,
            ctx.media,
            project_id,
            None,
            reader,
            source="calls.jsonl",
            limits=limits,
            media_field="audio",
        )
    error = caught.value
    assert (error.file, error.line, error.field) == ("calls.jsonl", 1, "audio")
    assert error.message == "the audio file 'a.wav' is larger than 100 bytes"
    assert projects.get_project(ctx.db, project_id, with_stats=True).stats.total == 0  # type: ignore[union-attr]


def test_drafts_as_a_job(ctx: AppContext, admin, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from hitloop.jobs import JobRunner, records
    from hitloop.services.jobs import builtin_jobs, request_job

    project_id = _transcribe_project(ctx)
    clip = speak("Hello world.", tmp_path / "hello.wav").read_bytes()
    item = items.add_audio(ctx.db, ctx.media, project_id, None, clip, filename="hello.wav", limits=ctx.limits)
    job = request_job(ctx.db, "transcribe", project_id, admin.id)
    runner = JobRunner(ctx.db, ctx.settings, builtin_jobs())
    while (claimed := records.claim(ctx.db)) is not None:
        runner.run_claimed(claimed)
    done = records.get(ctx.db, job.id)
    assert done.state == "done", done.error
    assert done.result is not None and done.result["drafted"] == 1
    draft = speech.draft_for(ctx.db, item)
    assert draft is not None and draft["text"] == "hello world"

    text_project = projects.create_project(ctx.db, None, ProjectCreate(name="t", labels=["a"])).id
    failing = request_job(ctx.db, "transcribe", text_project, admin.id)
    while (claimed := records.claim(ctx.db)) is not None:
        runner.run_claimed(claimed)
    failed = records.get(ctx.db, failing.id)
    assert failed.state == "failed" and "transcribe on audio" in (failed.error or "")
