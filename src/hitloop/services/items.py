"""Adding items: small JSON batches, single image uploads, and streamed imports.

Imports are all-or-nothing. Rows are written in batches to a temporary table
on the import's own connection (:mod:`hitloop.services.import_stage`), which
no annotator waits for; when the whole source has been read they are copied
into ``items`` in the one transaction that marks the import done. If anything
fails, the temporary table is dropped and the import is marked failed; a crash
takes the table with the connection, and on restart
:func:`cleanup_interrupted_imports` marks such imports failed (and removes any
``staged`` rows an older version left).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, cast

from sqlalchemy import CursorResult, Table, delete, insert, select, update

from hitloop.db.engine import Database
from hitloop.db.sql import Statement, json_out, json_text
from hitloop.db.tables import ImportRun, Item, Job, Media, ModelVersion, Project
from hitloop.errors import ConflictError, HitloopError, InputError, NotFoundError, PayloadTooLargeError
from hitloop.jobs.records import QUEUED, insert_job
from hitloop.jobs.records import wake as wake_jobs
from hitloop.media.store import MediaStore
from hitloop.schemas import ImportResult, ItemIn
from hitloop.services.audit import record_event
from hitloop.services.import_stage import ImportStage
from hitloop.services.loop_settings import loop_settings_of
from hitloop.types import ItemState, Modality, TaskType, validate_value

if TYPE_CHECKING:
    from hitloop.formats.audio import AudioInfo
    from hitloop.formats.images import ImageInfo

__all__ = [
    "ItemLimits",
    "add_audio",
    "add_image",
    "add_items",
    "cleanup_interrupted_imports",
    "get_media",
    "import_records",
]

items = cast(Table, Item.__table__)
media_table = cast(Table, Media.__table__)


class RecordLike(Protocol):
    # Read-only, so frozen records (hitloop.formats.ItemRecord) satisfy it.
    @property
    def line(self) -> int: ...
    @property
    def text(self) -> str | None: ...
    @property
    def image_path(self) -> Path | None: ...
    @property
    def external_id(self) -> str | None: ...
    @property
    def meta(self) -> dict[str, Any]: ...
    @property
    def label(self) -> str | list[str] | None: ...


FEATURIZED = frozenset({Modality.TEXT.value, Modality.IMAGE.value, Modality.AUDIO.value})
"""Modalities whose new items queue a featurize job."""


@dataclass(frozen=True)
class ItemLimits:
    max_text_chars: int = 100_000
    max_upload_bytes: int = 50 * 1024 * 1024
    max_image_pixels: int = 64_000_000
    max_audio_seconds: float = 4 * 3600


def _project(s: Any, project_id: int) -> Any:
    row = s.execute(
        select(
            Project.__table__.c.id,
            Project.__table__.c.modality,
            Project.__table__.c.task,
            Project.__table__.c.labels,
            Project.__table__.c.settings,
        ).where(Project.__table__.c.id == project_id)
    ).first()
    if row is None:
        raise NotFoundError(f"project {project_id} not found", field="project_id")
    return row


def _queue_featurize(s: Any, project: Any, user_id: int | None, args: dict[str, Any]) -> bool:
    """Queue a featurize job for the project unless one is already waiting; True if queued now.

    Features for the model loop are computed in the background
    (services/features.py), from the items there are when the job starts: one
    waiting job covers every item added before it runs, so a stream of small
    additions queues one job at a time, not one each. Without automatic
    retraining nothing is queued: the features wait for the next train job.
    """
    if project.modality not in FEATURIZED or not loop_settings_of(project.settings).auto_retrain:
        return False
    # Two adders must not both see "none waiting". FOR NO KEY UPDATE (PostgreSQL; SQLite writers
    # take turns anyway) does not conflict with the key-share lock the items' inserts took.
    s.execute(
        select(Project.__table__.c.id)
        .where(Project.__table__.c.id == project.id)
        .with_for_update(key_share=True)
    )
    waiting = s.scalar(
        select(Job.id)
        .where(Job.project_id == project.id, Job.kind == "featurize", Job.state == QUEUED)
        .limit(1)
    )
    if waiting is not None:
        return False
    insert_job(s, "featurize", project.id, args, user_id)
    return True


def _items_added(s: Any, project: Any, user_id: int | None) -> bool:
    """Items came in through the API or an upload: keep the model's order covering them.

    Once the project has a model, its features must cover the new items for
    them to get suggestions: a featurize job transforms the new items and
    scores them with the current model, or fits the featurizer again and
    retrains (:func:`hitloop.services.features.featurize_job`). Before the first model
    nothing is queued: the first train job featurizes every item anyway.
    """
    has_model = s.scalar(select(ModelVersion.id).where(ModelVersion.project_id == project.id).limit(1))
    if has_model is None:
        return False
    return _queue_featurize(s, project, user_id, {"reason": "items added"})


def _check_text(text: Any, limits: ItemLimits, *, field: str, file: str | None, line: int | None) -> str:
    if not isinstance(text, str):
        raise InputError("text must be a string", field=field, file=file, line=line)
    if not text.strip():
        raise InputError("text is empty", field=field, file=file, line=line)
    if len(text) > limits.max_text_chars:
        raise InputError(
            f"text is longer than {limits.max_text_chars} characters", field=field, file=file, line=line
        )
    if "\x00" in text:
        raise InputError("text contains a NUL character", field=field, file=file, line=line)
    return text


def add_items(
    db: Database, project_id: int, user_id: int | None, new: Sequence[ItemIn], limits: ItemLimits
) -> list[int]:
    """Add text items from a JSON request, in one transaction."""
    now = time.time()
    rows = []
    for i, item in enumerate(new):
        rows.append(
            {
                "project_id": project_id,
                "external_id": item.external_id,
                "text": _check_text(item.text, limits, field=f"items[{i}].text", file=None, line=None),
                "meta": item.meta,
                "priority": 0.0,
                "state": ItemState.OPEN.value,
                "n_answers": 0,
                "source": "api",
                "created_at": now,
            }
        )
    with db.write() as s:
        project = _project(s, project_id)
        if project.modality != Modality.TEXT.value:
            raise InputError(
                f"project {project_id} holds {project.modality} items; upload files instead", field="items"
            )
        if not rows:
            return []
        ids = list(s.scalars(insert(items).returning(items.c.id), rows))
        record_event(s, user_id, project_id, "items.add", "project", project_id, {"count": len(ids)})
        queued = _items_added(s, project, user_id)
    if queued:
        wake_jobs(db)
    return ids


def _check_size(data: bytes, name: str, limits: ItemLimits) -> None:
    if len(data) > limits.max_upload_bytes:
        raise PayloadTooLargeError(f"file is larger than {limits.max_upload_bytes} bytes", file=name)


def _store_upload(store: MediaStore, s: Any, data: bytes, content_type: str, **columns: Any) -> str:
    """Store one checked upload's bytes and its media row (``columns``: width and height, or duration)."""
    sha = store.put(data)
    if s.get(Media, sha) is None:
        s.add(Media(sha256=sha, content_type=content_type, size=len(data), created_at=time.time(), **columns))
        s.flush()
    return sha


def _insert_upload(
    s: Any, project_id: int, user_id: int | None, sha: str, filename: str, meta: dict[str, Any] | None
) -> int:
    """The open item for one uploaded file (already stored as ``sha``), with its audit event."""
    item_id = s.execute(
        insert(items)
        .values(
            project_id=project_id,
            external_id=filename[:500],
            text=None,
            media_sha256=sha,
            meta=meta or {"filename": filename[:500]},
            priority=0.0,
            state=ItemState.OPEN.value,
            n_answers=0,
            source="upload",
            created_at=time.time(),
        )
        .returning(items.c.id)
    ).scalar_one()
    record_event(s, user_id, project_id, "items.add", "item", item_id, {"filename": filename[:200]})
    return int(item_id)


def add_image(
    db: Database,
    store: MediaStore,
    project_id: int,
    user_id: int | None,
    data: bytes,
    *,
    filename: str,
    limits: ItemLimits,
    meta: dict[str, Any] | None = None,
    checked: ImageInfo | None = None,
) -> int:
    """Add one uploaded image as an item. ``filename`` is kept as metadata only.

    ``checked``: what :func:`hitloop.formats.images.check_image` found in these
    very bytes (an upload route checks every file before storing any); without
    it the image is checked here.
    """
    from hitloop.formats.images import check_image

    with db.write() as s:
        project = _project(s, project_id)
        if project.modality != Modality.IMAGE.value:
            raise InputError(f"project {project_id} holds {project.modality} items, not images", field="file")
        _check_size(data, filename, limits)
        info = checked or check_image(data, max_pixels=limits.max_image_pixels, name=filename)
        sha = _store_upload(store, s, data, info.content_type, width=info.width, height=info.height)
        item_id = _insert_upload(s, project_id, user_id, sha, filename, meta)
        queued = _items_added(s, project, user_id)
    if queued:
        wake_jobs(db)
    return item_id


def add_audio(
    db: Database,
    store: MediaStore,
    project_id: int,
    user_id: int | None,
    data: bytes,
    *,
    filename: str,
    limits: ItemLimits,
    checked: AudioInfo | None = None,
) -> int:
    """Add one uploaded recording as an item. ``filename`` is kept as metadata only.

    ``checked``: what :func:`hitloop.formats.audio.check_audio` found in these
    very bytes (an upload route checks every file before storing any); without
    it the recording is decoded here, before the write transaction starts.
    """
    from hitloop.media.audio import write_peaks

    if checked is None:
        from hitloop.formats.audio import check_audio

        checked = check_audio(data, max_seconds=limits.max_audio_seconds, name=filename)
    with db.write() as s:
        project = _project(s, project_id)
        if project.modality != Modality.AUDIO.value:
            raise InputError(f"project {project_id} holds {project.modality} items, not audio", field="file")
        _check_size(data, filename, limits)
        sha = _store_upload(store, s, data, checked.content_type, duration=checked.duration)
        write_peaks(store, sha, checked.peaks)
        item_id = _insert_upload(s, project_id, user_id, sha, filename, None)
        queued = _items_added(s, project, user_id)
    if queued:
        wake_jobs(db)
    return item_id


def import_records(
    db: Database,
    store: MediaStore,
    project_id: int,
    user_id: int | None,
    records: Iterable[RecordLike],
    *,
    source: str,
    limits: ItemLimits,
    batch_size: int = 5_000,
    progress: Callable[[int], None] | None = None,
    gold_field: str | None = None,
    media_field: str | None = None,
) -> ImportResult:
    """Import records all-or-nothing (see the module docstring).

    ``media_field`` (the field the reader took each record's file path from, in
    an image or audio project) is named in errors about those files.

    With ``gold_field`` (the field the reader took each record's ``label`` from),
    a record that carries a label becomes a gold item with that known answer; a
    label outside the project's label set fails the import at that record.
    """
    now = time.time()
    with db.write() as s:
        project = _project(s, project_id)
        gold_of = None if gold_field is None else _gold_parser(project, gold_field, source)
        run = ImportRun(
            project_id=project_id,
            source=source[:500],
            state="running",
            created_by=user_id,
            started_at=now,
            heartbeat_at=now,
        )
        s.add(run)
        s.flush()
        run_id = run.id
    # Image and audio records name a file; text records carry their text.
    media_kind = project.modality if project.modality != Modality.TEXT.value else None
    if media_kind is not None:
        # Image rows are cheap but their files are not: write more often so the
        # heartbeat and the progress bar keep moving.
        batch_size = min(batch_size, 200)
    created = gold = 0
    try:
        with ImportStage(db, run_id) as stage:
            batch: list[tuple[Any, ...]] = []
            new_media: dict[str, dict[str, Any]] = {}
            beat = time.monotonic()
            for record in records:
                row = _row(store, record, media_kind, source, limits, new_media, media_field)
                if gold_of is not None and record.label is not None:
                    row = (*row[:4], gold_of(record.label, record.line))
                    gold += 1
                batch.append(row)
                if len(batch) >= batch_size:
                    stage.write(batch)
                    created += len(batch)
                    beat = _checkpoint(db, run_id, new_media, beat)
                    if progress is not None:
                        progress(len(batch))
                    batch, new_media = [], {}
            if batch:
                stage.write(batch)
                created += len(batch)
                _checkpoint(db, run_id, new_media, beat, force=True)
                if progress is not None:
                    progress(len(batch))
            with stage.publishing() as s:
                finished = s.execute(
                    update(cast(Table, ImportRun.__table__))
                    .where(ImportRun.__table__.c.id == run_id, ImportRun.__table__.c.state == "running")
                    .values(state="done", created=created, finished_at=time.time())
                )
                if cast(CursorResult[Any], finished).rowcount != 1:
                    raise ConflictError(f"import {run_id} was cancelled while it ran; nothing was imported")
                copied = stage.copy_into_items(s, project_id, run_id, now)
                if copied != created:
                    raise RuntimeError(f"import {run_id} staged {created} rows, copied {copied}")
                detail: dict[str, Any] = {"source": source, "count": created}
                if gold:
                    detail["gold"] = gold
                record_event(s, user_id, project_id, "items.import", "import", run_id, detail)
                if created:
                    # Features (and a cold-start order, or a retrained model) for every import.
                    _queue_featurize(s, project, user_id, {"import_id": run_id})
    except BaseException as exc:
        _discard(db, run_id, exc)
        raise
    wake_jobs(db)
    return ImportResult(created=created, source=source, import_id=run_id, gold=gold)


HEARTBEAT_S = 2.0
"""Least time between two heartbeats of a running import (its staged rows need no lock)."""

_HEARTBEAT = Statement("UPDATE imports SET heartbeat_at = :now WHERE id = :id")
_INSERT_MEDIA = Statement(
    "INSERT INTO media (sha256, content_type, size, width, height, duration, created_at)"
    " VALUES (:sha256, :content_type, :size, :width, :height, :duration, :created_at)"
    " ON CONFLICT (sha256) DO NOTHING"
)


def _checkpoint(
    db: Database, run_id: int, new_media: dict[str, dict[str, Any]], beat: float, *, force: bool = False
) -> float:
    """Write the batch's media rows (the items will point at them) and, now and then, the heartbeat."""
    due = force or time.monotonic() - beat >= HEARTBEAT_S
    if not new_media and not due:
        return beat
    with db.driver_write() as conn:
        if new_media:
            _INSERT_MEDIA.run(conn, list(new_media.values()))
        if due:
            _HEARTBEAT.run(conn, {"now": time.time(), "id": run_id})
    return time.monotonic() if due else beat


_EMPTY_META = "{}"


def _row(
    store: MediaStore,
    record: RecordLike,
    media_kind: str | None,
    source: str,
    limits: ItemLimits,
    new_media: dict[str, dict[str, Any]],
    media_field: str | None = None,
) -> tuple[Any, ...]:
    """The staged row: (external_id, text, media_sha256, meta JSON, gold JSON)."""
    sha = None
    text = record.text
    if media_kind is not None:
        sha = _import_image(
            store, record, source, limits, new_media, media_field, audio=media_kind == Modality.AUDIO.value
        )
        text = None
    elif (
        type(text) is not str
        or len(text) > limits.max_text_chars
        or not text
        or text.isspace()
        or "\x00" in text
    ):
        text = _check_text(text, limits, field="text", file=source, line=record.line)
    meta = record.meta
    return (record.external_id, text, sha, json_text(meta) if meta else _EMPTY_META, None)


def _gold_parser(project: Any, field: str, source: str) -> Callable[[str | list[str], int], str]:
    """Turn a record's label into the gold value's JSON text, or fail naming its line and field."""
    task = TaskType(project.task)
    labels = list(json_out(project.labels))
    if task not in (TaskType.CLASSIFY, TaskType.MULTILABEL):
        raise InputError(
            f"gold answers can be imported into classify and multilabel projects, not {task.value}",
            field="gold_field",
        )
    known = ", ".join(repr(name) for name in labels)
    single = {name: json_text({"label": name}) for name in labels}

    def parse(label: str | list[str], line: int) -> str:
        if task is TaskType.CLASSIFY:
            if type(label) is not str:
                raise InputError(
                    "a classify project takes one label (a string), got a list",
                    file=source,
                    line=line,
                    field=field,
                )
            value = single.get(label)
            if value is None:
                raise InputError(
                    f"unknown label {label!r}; the project's labels are {known}",
                    file=source,
                    line=line,
                    field=field,
                )
            return value
        chosen = [label] if type(label) is str else label
        try:
            return json_text(validate_value(task, labels, {"labels": chosen}))
        except InputError as exc:
            message = exc.message
            if message.startswith("unknown label"):
                message = f"{message}; the project's labels are {known}"
            raise InputError(message, file=source, line=line, field=field) from None

    return parse


def _import_image(
    store: MediaStore,
    record: RecordLike,
    source: str,
    limits: ItemLimits,
    new_media: dict[str, dict[str, Any]],
    field: str | None = None,
    *,
    audio: bool = False,
) -> str:
    """Check and store one image (or recording) file; its media row goes in with the batch."""
    from hitloop.formats.audio import check_audio
    from hitloop.formats.images import check_image
    from hitloop.media.audio import write_peaks

    noun = "audio file" if audio else "image"
    if record.image_path is None:
        raise InputError(
            f"the record names no {noun}; the project holds {'audio' if audio else 'image'} items",
            file=source,
            line=record.line,
            field=field,
        )
    path = Path(record.image_path)
    try:
        size = path.stat().st_size
        if size > limits.max_upload_bytes:
            raise PayloadTooLargeError(
                f"the {noun} {path.name!r} is larger than {limits.max_upload_bytes} bytes",
                file=source,
                line=record.line,
                field=field,
            )
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(
            f"cannot read the {noun} {path.name!r}: {exc.strerror}",
            file=source,
            line=record.line,
            field=field,
        ) from None
    try:
        if audio:
            sound = check_audio(data, max_seconds=limits.max_audio_seconds, name=path.name)
        else:
            info = check_image(data, max_pixels=limits.max_image_pixels, name=path.name)
    except HitloopError as exc:
        exc.file, exc.line = source, record.line
        exc.field = exc.field or field
        raise
    sha = store.put(data)
    if audio:
        write_peaks(store, sha, sound.peaks)
        dims: dict[str, Any] = {"width": None, "height": None, "duration": sound.duration}
        content_type = sound.content_type
    else:
        dims = {"width": info.width, "height": info.height, "duration": None}
        content_type = info.content_type
    new_media[sha] = {
        "sha256": sha,
        "content_type": content_type,
        "size": len(data),
        **dims,
        "created_at": time.time(),
    }
    return sha


def _discard(db: Database, run_id: int, exc: BaseException) -> None:
    message = exc.describe() if isinstance(exc, HitloopError) else f"{type(exc).__name__}: {exc}"
    with db.write() as s:
        project_id = s.scalar(select(ImportRun.project_id).where(ImportRun.id == run_id))
        s.execute(
            delete(items).where(
                items.c.project_id == project_id,
                items.c.state == ItemState.STAGED.value,
                items.c.import_id == run_id,
            )
        )
        s.execute(
            update(cast(Table, ImportRun.__table__))
            .where(ImportRun.__table__.c.id == run_id)
            .values(state="failed", error=message[:2000], finished_at=time.time())
        )


def cleanup_interrupted_imports(db: Database, *, stale_after_s: float = 300.0) -> int:
    """Remove staged rows of imports a crash interrupted; returns how many imports.

    An import counts as interrupted when it is still ``running`` but wrote no
    batch for ``stale_after_s`` seconds (another process may be importing now).
    """
    cutoff = time.time() - stale_after_s
    with db.read() as s:
        running = list(
            s.scalars(
                select(ImportRun.id).where(ImportRun.state == "running", ImportRun.heartbeat_at < cutoff)
            )
        )
    for run_id in running:
        _discard(db, run_id, RuntimeError("interrupted (the process stopped during the import)"))
    return len(running)


def get_media(db: Database, item_id: int) -> tuple[int, str, str]:
    """(project id, sha256, content type) of an item's file."""
    with db.read() as s:
        row = s.execute(
            select(items.c.project_id, items.c.media_sha256, media_table.c.content_type)
            .join(media_table, media_table.c.sha256 == items.c.media_sha256)
            .where(items.c.id == item_id, items.c.state != ItemState.STAGED.value)
        ).first()
    if row is None:
        raise NotFoundError(f"item {item_id} has no media", field="item_id")
    return int(row.project_id), str(row.media_sha256), str(row.content_type)
