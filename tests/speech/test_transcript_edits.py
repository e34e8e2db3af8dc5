"""Draft-to-transcript edits are measured when a transcript is submitted and stored, not at read time."""

from __future__ import annotations

import time
from typing import Any

import pytest
from sqlalchemy import delete, func, insert, select, update

from hitloop.api.context import AppContext
from hitloop.db.tables import Base, Suggestion, TranscriptEdit
from hitloop.ml.recognizer import Draft, Word
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


class _Scripted:
    """A recognizer that drafts the given texts, one per recording (the draft job's write path, no speech)."""

    def __init__(self, *texts: str) -> None:
        self.texts = list(texts)

    def recognize(self, samples: Any, offset: float = 0.0) -> Draft:
        return Draft([Word(w, offset, offset, 0.9) for w in self.texts.pop(0).split()])


def _table_rows(ctx: AppContext) -> dict[str, int]:
    with ctx.db.read() as s:
        return {
            t.name: s.scalar(select(func.count()).select_from(t)) or 0 for t in Base.metadata.sorted_tables
        }


def test_a_draft_after_the_answer_and_a_reviewer_fix_are_measured_when_written(
    ctx: AppContext, admin: Any
) -> None:
    pid, ids = _setup(ctx, 2)
    _draft(ctx, pid, ids[0], DRAFTS[0])
    first = _answer(ctx, admin.id, ids[0], FINALS[0], "late-0001")
    second = _answer(ctx, admin.id, ids[1], FINALS[1], "late-0002")  # no draft yet: nothing to compare
    assert set(_rows(ctx)) == {first.id}
    # The draft job stores the row of the answer it came after, compared with that draft.
    speech.transcribe_project(ctx.db, ctx.media, pid, recognizer=_Scripted(DRAFTS[1]), redo=False)
    c = edit_counts([(DRAFTS[1], FINALS[1])])
    assert _rows(ctx)[second.id] == (c.words, c.word_errors, c.keystrokes_typed, c.keystrokes_corrected)
    # A redo keeps the rows already stored: a transcript counts against the draft it corrected.
    before = _rows(ctx)
    speech.transcribe_project(ctx.db, ctx.media, pid, recognizer=_Scripted("a", "b"), redo=True)
    assert _rows(ctx) == before

    reviewer = auth.create_user(ctx.db, "rev", "rev-password", is_admin=True).id
    fixed = review.review_annotation(
        ctx.db, reviewer, second.id, ReviewDecision(action="fix", value={"text": "Turn the lights off."})
    ).fixed_by
    assert fixed is not None
    c = edit_counts([("b", "Turn the lights off.")])  # the item's draft at the time of the fix
    assert _rows(ctx)[fixed] == (c.words, c.word_errors, c.keystrokes_typed, c.keystrokes_corrected)
    expected = _expected([(DRAFTS[0], FINALS[0]), ("b", "Turn the lights off.")])
    assert speech.transcript_stats(ctx.db, pid).model_dump() == pytest.approx(expected)


def test_reading_the_statistics_writes_nothing(ctx: AppContext, admin, api) -> None:  # type: ignore[no-untyped-def]
    # Transcripts from before the table existed have no row: a read measures them
    # against the current draft, in memory, and stores nothing.
    pid, ids = _setup(ctx)
    for item_id, text in zip(ids, DRAFTS, strict=True):
        _draft(ctx, pid, item_id, text)
    first = _answer(ctx, admin.id, ids[0], FINALS[0], "old-0001")
    _answer(ctx, admin.id, ids[1], FINALS[1], "old-0002")
    with ctx.db.write() as s:  # the second answer as if given before revision 0003
        s.execute(delete(TranscriptEdit).where(TranscriptEdit.annotation_id != first.id))
    _answer(ctx, admin.id, ids[2], None, "old-0003")  # a skip measures nothing
    expected = _expected([(DRAFTS[0], FINALS[0]), (DRAFTS[1], FINALS[1])])
    tables, rows = _table_rows(ctx), _rows(ctx)
    assert len(rows) == 1
    assert speech.transcript_stats(ctx.db, pid).model_dump() == pytest.approx(expected)
    r = api.get(f"/api/projects/{pid}/transcripts")
    assert r.status_code == 200 and r.json() == pytest.approx(expected)
    assert speech.transcript_stats(ctx.db, pid).model_dump() == pytest.approx(expected)
    assert _table_rows(ctx) == tables and _rows(ctx) == rows
