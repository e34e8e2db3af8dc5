"""Draft-to-transcript edits are measured when a transcript is submitted and stored, not at read time."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, update

from hitloop.api.context import AppContext
from hitloop.db.tables import Annotation, Suggestion, TranscriptEdit
from hitloop.ml.speech import edit_counts
from hitloop.schemas import AnnotationIn, ProjectCreate, ReviewDecision
from hitloop.services import auth, items, projects, review, speech
from hitloop.services.annotations import submit
from tests.sounds import encode, tone

DRAFTS = ["please call stela ask her to bring these things", "turn of the lights", "the quick brown fox"]
FINALS = [
    "Please call Stella. Ask her to bring these things.",
    "Turn off the lights.",
    "The quick brown fox jumps.",
]


def _setup(ctx: AppContext, n: int = 3) -> tuple[int, list[int]]:
    pid = projects.create_project(
        ctx.db, None, ProjectCreate(name="dictation", task="transcribe", modality="audio", labels=[])
    ).id
    clip = encode(tone(0.3))
    ids = [
        items.add_audio(ctx.db, ctx.media, pid, None, clip, filename=f"{i}.wav", limits=ctx.limits)
        for i in range(n)
    ]
    return pid, ids


def _draft(ctx: AppContext, pid: int, item_id: int, text: str) -> None:
    with ctx.db.write() as s:
        s.execute(delete(Suggestion).where(Suggestion.item_id == item_id))
        s.execute(
            insert(Suggestion).values(
                item_id=item_id,
                project_id=pid,
                model_version_id=None,
                value={"text": text},
                created_at=time.time(),
            )
        )


def _answer(ctx: AppContext, user: int, item_id: int, text: str | None, key: str) -> Any:
    body = AnnotationIn(value=None if text is None else {"text": text}, skip=text is None, client_key=key)
    return submit(ctx.db, user, item_id, body)


def _rows(ctx: AppContext) -> dict[int, tuple[int, int, int, int]]:
    with ctx.db.read() as s:
        return {
            r.annotation_id: (r.words, r.word_errors, r.keystrokes_typed, r.keystrokes_corrected)
            for r in s.scalars(select(TranscriptEdit))
        }


def _expected(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    c = edit_counts(pairs)
    return {"transcripts": c.transcripts, "words": c.words, "word_errors": c.word_errors, "wer": c.wer,
            "keystrokes_typed": c.keystrokes_typed, "keystrokes_corrected": c.keystrokes_corrected,
            "keystrokes_saved": c.keystrokes_saved}  # fmt: skip


def test_edits_are_stored_at_submit_and_summed_on_read(ctx: AppContext, admin) -> None:  # type: ignore[no-untyped-def]
    pid, ids = _setup(ctx)
    for item_id, text in zip(ids, DRAFTS, strict=True):
        _draft(ctx, pid, item_id, text)
    first = _answer(ctx, admin.id, ids[0], FINALS[0], "edits-0001")
    # Stored by the submit itself, before anything reads the statistics.
    c = edit_counts([(DRAFTS[0], FINALS[0])])
    assert _rows(ctx) == {first.id: (c.words, c.word_errors, c.keystrokes_typed, c.keystrokes_corrected)}
    assert c.word_errors == 1 and c.keystrokes_corrected > 0

    _answer(ctx, admin.id, ids[1], FINALS[1], "edits-0002")
    _answer(ctx, admin.id, ids[2], None, "edits-0003")  # a skip measures nothing
    assert len(_rows(ctx)) == 2
    stats = speech.transcript_stats(ctx.db, pid).model_dump()
    assert stats == pytest.approx(_expected([(DRAFTS[0], FINALS[0]), (DRAFTS[1], FINALS[1])]))

    # An edit replaces the answer: only the current one counts.
    _answer(ctx, admin.id, ids[1], DRAFTS[1], "edits-0004")  # back to the draft: no errors
    stats = speech.transcript_stats(ctx.db, pid).model_dump()
    assert stats == pytest.approx(_expected([(DRAFTS[0], FINALS[0]), (DRAFTS[1], DRAFTS[1])]))
    assert len(_rows(ctx)) == 3  # the superseded answer keeps its row; it is not summed

    # Reading measures nothing again: the texts are not compared on a page view.
    with ctx.db.write() as s:
        s.execute(
            update(TranscriptEdit).where(TranscriptEdit.annotation_id == first.id).values(word_errors=5)
        )
    assert speech.transcript_stats(ctx.db, pid).word_errors == 5
    assert len(_rows(ctx)) == 3


def test_a_transcript_counts_against_the_draft_it_corrected(ctx: AppContext, admin) -> None:  # type: ignore[no-untyped-def]
    pid, ids = _setup(ctx, 1)
    _draft(ctx, pid, ids[0], DRAFTS[0])
    _answer(ctx, admin.id, ids[0], FINALS[0], "redo-0001")
    before = speech.transcript_stats(ctx.db, pid)
    _draft(ctx, pid, ids[0], FINALS[0].lower())  # hitloop transcribe --redo after the answer
    assert speech.transcript_stats(ctx.db, pid) == before


def test_answers_without_a_stored_row_are_measured_once_on_read(ctx: AppContext, admin) -> None:  # type: ignore[no-untyped-def]
    # Transcripts from before the table existed, a draft that came after the answer,
    # and a reviewer's fix all get their row on the next read, once.
    pid, ids = _setup(ctx)
    _draft(ctx, pid, ids[0], DRAFTS[0])
    _answer(ctx, admin.id, ids[0], FINALS[0], "late-0001")
    _answer(ctx, admin.id, ids[1], FINALS[1], "late-0002")  # no draft yet: nothing to compare
    assert len(_rows(ctx)) == 1
    _draft(ctx, pid, ids[1], DRAFTS[1])
    with ctx.db.write() as s:
        s.execute(delete(TranscriptEdit))  # as if answered before revision 0003
    expected = _expected([(DRAFTS[0], FINALS[0]), (DRAFTS[1], FINALS[1])])
    assert speech.transcript_stats(ctx.db, pid).model_dump() == pytest.approx(expected)
    assert len(_rows(ctx)) == 2
    assert speech.transcript_stats(ctx.db, pid).model_dump() == pytest.approx(expected)
    assert len(_rows(ctx)) == 2

    reviewer = auth.create_user(ctx.db, "rev", "rev-password", is_admin=True).id
    with ctx.db.read() as s:
        answer = s.scalar(select(Annotation.id).where(Annotation.item_id == ids[1]))
    review.review_annotation(
        ctx.db, reviewer, answer, ReviewDecision(action="fix", value={"text": "Turn the lights off."})
    )
    expected = _expected([(DRAFTS[0], FINALS[0]), (DRAFTS[1], "Turn the lights off.")])
    assert speech.transcript_stats(ctx.db, pid).model_dump() == pytest.approx(expected)
