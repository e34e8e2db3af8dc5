"""Audio items: waveform and draft for the player, recognizer drafts, and how much they help.

A draft is stored as the item's suggestion (``suggestions`` row, no model
version): ``value`` is a transcribe value (``{"text"}``, with ``"segments"``
for recordings split at pauses) and ``explanation`` holds each word's
timing and confidence, so the page can highlight the words the recognizer
was unsure of.

How far each transcript is from its draft (words, word errors, keystrokes) is
measured once, when the transcript is written, and stored in
``transcript_edits``: at submit (:func:`record_edits`, in the submit
transaction), and for answers that had no draft then, when the draft is
stored, or for a reviewer's fix, in the review transaction
(:func:`fill_edits`). The project's statistics add up the rows of current
answers; reading them writes nothing.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from sqlalchemy import Table, delete, exists, func, insert, select
from sqlalchemy.orm import Session

from hitloop.db.engine import Database, DriverConnection
from hitloop.db.sql import Statement, json_out
from hitloop.db.tables import Annotation, Item, Media, Project, Suggestion, TranscriptEdit
from hitloop.errors import InputError, NotFoundError
from hitloop.jobs import JobContext
from hitloop.media.audio import read_peaks, write_peaks
from hitloop.media.store import MediaStore
from hitloop.schemas import AudioOut, TranscriptStats
from hitloop.services.audit import record_event
from hitloop.types import ItemState, Modality, TaskType

__all__ = [
    "LONG_RECORDING_S",
    "audio_info",
    "draft_for",
    "fill_edits",
    "record_edits",
    "transcribe_job",
    "transcribe_project",
    "transcript_stats",
]

items_t = cast(Table, Item.__table__)
media_t = cast(Table, Media.__table__)
suggestions_t = cast(Table, Suggestion.__table__)
annotations_t = cast(Table, Annotation.__table__)
edits_t = cast(Table, TranscriptEdit.__table__)

#: Recordings longer than this are split at pauses and transcribed segment by segment.
LONG_RECORDING_S = 30.0
LOW_CONFIDENCE = 0.5


def _audio_row(db: Database, item_id: int) -> Any:
    with db.read() as s:
        row = s.execute(
            select(items_t.c.media_sha256, media_t.c.duration)
            .join(media_t, media_t.c.sha256 == items_t.c.media_sha256)
            .where(items_t.c.id == item_id, items_t.c.state != ItemState.STAGED.value)
        ).first()
    if row is None or row.duration is None:
        raise NotFoundError(f"item {item_id} has no recording", field="item_id")
    return row


def audio_info(db: Database, store: MediaStore, item_id: int) -> AudioOut:
    """Length, waveform peaks and the recognizer's draft (if any) of one recording."""
    row = _audio_row(db, item_id)
    peaks = read_peaks(store, row.media_sha256)
    if peaks is None:
        # Stored before peaks existed (or the file was restored without them): compute once.
        from hitloop.formats.audio import check_audio

        data = store.path_for(row.media_sha256).read_bytes()
        peaks = check_audio(data, max_seconds=float("inf"), name=str(item_id)).peaks
        write_peaks(store, row.media_sha256, peaks)
    return AudioOut(duration=float(row.duration), peaks=peaks.tolist(), draft=draft_for(db, item_id))


def draft_for(db: Database, item_id: int) -> dict[str, Any] | None:
    """The stored draft: ``{"text", "segments"?, "words": [[word, confidence, start, end], ...]}``."""
    with db.read() as s:
        row = s.execute(
            select(suggestions_t.c.value, suggestions_t.c.explanation, suggestions_t.c.confidence).where(
                suggestions_t.c.item_id == item_id, suggestions_t.c.model_version_id.is_(None)
            )
        ).first()
    if row is None:
        return None
    value = json_out(row.value) or {}
    if "text" not in value:
        return None
    words = (json_out(row.explanation) or {}).get("words", [])
    return {**value, "words": words, "confidence": row.confidence}


def _project(db: Database, project_id: int) -> Any:
    with db.read() as s:
        project = s.execute(
            select(Project.__table__.c.modality, Project.__table__.c.task).where(
                Project.__table__.c.id == project_id
            )
        ).first()
    if project is None:
        raise NotFoundError(f"project {project_id} not found", field="project_id")
    if project.modality != Modality.AUDIO.value or project.task != TaskType.TRANSCRIBE.value:
        raise InputError(
            f"project {project_id} is {project.task} on {project.modality}; drafts need transcribe on audio",
            field="project_id",
        )
    return project


def transcribe_project(
    db: Database,
    store: MediaStore,
    project_id: int,
    *,
    recognizer: Any = None,
    redo: bool = False,
    limit: int | None = None,
    long_s: float = LONG_RECORDING_S,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Write a recognizer draft for each open item of a transcribe project; returns how many.

    Items that already have a draft are left alone unless ``redo``. A
    recording longer than ``long_s`` seconds is split at pauses and its draft
    has segments. Each draft is committed on its own, so an interrupted run
    keeps what it finished and a re-run continues.
    """
    from hitloop.formats.audio import decode_audio
    from hitloop.ml.recognizer import SAMPLERATE, PocketSphinxRecognizer, transcribe_long

    _project(db, project_id)
    recognizer = recognizer or PocketSphinxRecognizer()
    has_draft = exists().where(suggestions_t.c.item_id == items_t.c.id)
    query = (
        select(items_t.c.id, items_t.c.media_sha256)
        .join(media_t, media_t.c.sha256 == items_t.c.media_sha256)
        .where(items_t.c.project_id == project_id, items_t.c.state != ItemState.STAGED.value)
        .order_by(items_t.c.id)
    )
    if not redo:
        query = query.where(~has_draft)
    if limit is not None:
        query = query.limit(limit)
    with db.read() as s:
        todo = list(s.execute(query))
    for done, row in enumerate(todo, 1):
        samples, _ = decode_audio(Path(store.path_for(row.media_sha256)), samplerate=SAMPLERATE)
        seconds = len(samples) / SAMPLERATE
        segmented = seconds > long_s
        if segmented:
            pieces = transcribe_long(samples, recognizer, max_segment_s=long_s)
        else:
            pieces = [(0.0, seconds, recognizer.recognize(samples))]
        _store_draft(db, project_id, int(row.id), pieces, segmented=segmented)
        if progress is not None:
            progress(done, len(todo))
    if todo:
        with db.write() as s:
            record_event(
                s, None, project_id, "drafts.transcribe", "project", project_id, {"count": len(todo)}
            )
    return len(todo)


def _store_draft(
    db: Database, project_id: int, item_id: int, pieces: list[tuple[float, float, Any]], *, segmented: bool
) -> None:
    words = [w for _, _, draft in pieces for w in draft.words]
    text = " ".join(w.text for w in words)
    value: dict[str, Any] = {"text": text}
    if segmented:
        value["segments"] = [
            {"start": round(a, 3), "end": round(b, 3), "text": draft.text} for a, b, draft in pieces
        ]
    confidence = sum(w.confidence for w in words) / len(words) if words else None
    row = {
        "item_id": item_id,
        "project_id": project_id,
        "model_version_id": None,
        "value": value,
        "label": None,
        "confidence": confidence,
        "probs": None,
        "explanation": {"words": [[w.text, w.confidence, w.start, w.end] for w in words]},
        "created_at": time.time(),
    }
    with db.write() as s:
        s.execute(delete(suggestions_t).where(suggestions_t.c.item_id == item_id))
        s.execute(insert(suggestions_t).values(**row))
        # Answers given before this draft existed are measured against it now (a redo keeps stored rows).
        fill_edits(s, project_id, item_id)


_DRAFT = Statement("SELECT value FROM suggestions WHERE item_id = :i AND model_version_id IS NULL")
_INSERT_EDITS = Statement(
    "INSERT INTO transcript_edits"
    " (annotation_id, project_id, words, word_errors, keystrokes_typed, keystrokes_corrected)"
    " VALUES (:annotation_id, :project_id, :words, :word_errors, :keystrokes_typed, :keystrokes_corrected)"
)


def _edits(annotation_id: int, project_id: int, draft: Any, final: Any) -> dict[str, int] | None:
    """The ``transcript_edits`` row of one answer against its draft; None without both texts."""
    from hitloop.ml.speech import edit_counts

    draft, final = json_out(draft) or {}, json_out(final) or {}
    if not (isinstance(draft.get("text"), str) and isinstance(final.get("text"), str)):
        return None
    counts = edit_counts([(draft["text"], final["text"])])
    return {
        "annotation_id": annotation_id,
        "project_id": project_id,
        "words": counts.words,
        "word_errors": counts.word_errors,
        "keystrokes_typed": counts.keystrokes_typed,
        "keystrokes_corrected": counts.keystrokes_corrected,
    }


def record_edits(
    conn: DriverConnection, annotation_id: int, item_id: int, project_id: int, value: dict[str, Any]
) -> None:
    """Store how far a just-submitted transcript is from the item's draft (if it has one).

    Runs inside the submit transaction: one primary-key read and, with a
    draft, one insert. The comparison is rapidfuzz's bit-parallel Levenshtein
    (an hour-long call's 50,000 characters take milliseconds).
    """
    draft = _DRAFT.run(conn, {"i": item_id}).first()
    row = None if draft is None else _edits(annotation_id, project_id, draft.value, value)
    if row is not None:
        _INSERT_EDITS.run(conn, row)


def _current(project_id: int) -> Any:
    return (
        annotations_t.c.project_id == project_id,
        annotations_t.c.superseded_by.is_(None),
        annotations_t.c.skipped.is_(False),
    )


def _missing(project_id: int) -> Any:
    """(id, value, draft) of current transcripts that have a draft but no ``transcript_edits`` row."""
    return (
        select(annotations_t.c.id, annotations_t.c.value, suggestions_t.c.value.label("draft"))
        .join(suggestions_t, suggestions_t.c.item_id == annotations_t.c.item_id)
        .outerjoin(edits_t, edits_t.c.annotation_id == annotations_t.c.id)
        .where(
            *_current(project_id),
            suggestions_t.c.model_version_id.is_(None),
            edits_t.c.annotation_id.is_(None),
        )
    )


def fill_edits(s: Session, project_id: int, item_id: int) -> None:
    """Store the rows of an item's current transcripts that have none, against its draft now.

    Called where such answers arise, in the writing transaction: a draft
    stored after the item was answered, and a reviewer's fix.
    """
    found = s.execute(_missing(project_id).where(annotations_t.c.item_id == item_id)).all()
    rows = [e for r in found if (e := _edits(r.id, project_id, r.draft, r.value)) is not None]
    if rows:
        s.execute(insert(edits_t), rows)


def transcript_stats(db: Database, project_id: int) -> TranscriptStats:
    """The recognizer's word error rate against people, and the typing its drafts saved.

    Sums the ``transcript_edits`` rows of the project's current transcripts,
    measured when each was submitted against the draft it corrected. A read
    writes nothing: transcripts without a row (answered before the table
    existed) are measured here against the item's draft, in memory only.
    """
    from hitloop.ml.speech import EditCounts

    with db.read() as s:
        row = s.execute(
            select(
                func.count(),
                func.coalesce(func.sum(edits_t.c.words), 0),
                func.coalesce(func.sum(edits_t.c.word_errors), 0),
                func.coalesce(func.sum(edits_t.c.keystrokes_typed), 0),
                func.coalesce(func.sum(edits_t.c.keystrokes_corrected), 0),
            )
            .select_from(edits_t)
            .join(annotations_t, annotations_t.c.id == edits_t.c.annotation_id)
            .where(edits_t.c.project_id == project_id, *_current(project_id))
        ).one()
        missing = s.execute(_missing(project_id)).all()
    totals = [int(v) for v in row]
    for r in missing:
        edits = _edits(r.id, project_id, r.draft, r.value)
        if edits is not None:
            totals[0] += 1
            totals[1] += edits["words"]
            totals[2] += edits["word_errors"]
            totals[3] += edits["keystrokes_typed"]
            totals[4] += edits["keystrokes_corrected"]
    counts = EditCounts(*totals)
    return TranscriptStats(
        transcripts=counts.transcripts,
        words=counts.words,
        word_errors=counts.word_errors,
        wer=counts.wer,
        keystrokes_typed=counts.keystrokes_typed,
        keystrokes_corrected=counts.keystrokes_corrected,
        keystrokes_saved=counts.keystrokes_saved,
    )


def transcribe_job(ctx: JobContext) -> dict[str, Any]:
    """The ``transcribe`` job: :func:`transcribe_project` (``args``: optional ``redo``, ``limit``)."""
    if ctx.project_id is None:
        raise InputError("a transcribe job needs a project", field="project_id")
    redo, limit = ctx.args.get("redo", False), ctx.args.get("limit")
    if not isinstance(redo, bool):
        raise InputError("redo must be true or false", field="args.redo")
    if limit is not None and (not isinstance(limit, int) or isinstance(limit, bool) or limit < 1):
        raise InputError("limit must be a positive integer", field="args.limit")

    def progress(done: int, total: int) -> None:
        ctx.check_cancelled()
        ctx.progress(done / total if total else 1.0, f"{done:,} of {total:,} recordings")

    store = MediaStore(ctx.settings.media_dir)
    count = transcribe_project(ctx.db, store, ctx.project_id, redo=redo, limit=limit, progress=progress)
    return {"drafted": count}
