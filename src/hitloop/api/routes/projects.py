"""Projects and what belongs to them: items, the queue, history, export."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, File, Form, Query, Request, Response, UploadFile
from fastapi.responses import StreamingResponse
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from hitloop.api.context import AppContext
from hitloop.api.deps import (
    AnnotationReader,
    Annotator,
    Ctx,
    IdPath,
    ItemAdder,
    ProjectReader,
    User,
    require_user,
)
from hitloop.api.errors import ERROR_RESPONSES
from hitloop.api.hotpath import body_schema, call_service, json_response, parse_body
from hitloop.errors import HitloopError, InputError, PayloadTooLargeError
from hitloop.formats import ItemRecord, open_reader
from hitloop.formats.audio import check_audio
from hitloop.formats.images import check_image
from hitloop.schemas import (
    AddItemsRequest,
    AddItemsResult,
    HistoryEntry,
    ImagesResult,
    ImportResult,
    NextRequest,
    NextResponse,
    ProjectCreate,
    ProjectOut,
    ReleaseRequest,
    ReleaseResult,
    TranscriptStats,
)
from hitloop.services import annotations as annotation_service
from hitloop.services import exports, items, policy, projects, queue, speech
from hitloop.types import Modality

router = APIRouter(prefix="/api/projects", tags=["projects"], responses=ERROR_RESPONSES)

UPLOAD_CHUNK = 1024 * 1024


@router.get("", response_model=list[ProjectOut])
def list_projects(ctx: Ctx, user: User) -> list[ProjectOut]:
    """The projects the caller belongs to (an administrator sees all).

    Where the caller may not read everyone's answers (an annotator, by default), the answer
    and skip counts and the label distribution count only their own.
    """
    gold = policy.projects_allowing(ctx.db, user, policy.Action.MANAGE_GOLD)
    everyone = policy.projects_allowing(ctx.db, user, policy.Action.READ_ANNOTATIONS)
    return projects.list_projects(
        ctx.db,
        only=policy.visible_project_ids(ctx.db, user),
        gold_seen_in=gold,
        answers_seen_in=everyone,
        viewer_id=user.id,
    )


@router.post("", response_model=ProjectOut, status_code=201)
def create_project(body: ProjectCreate, ctx: Ctx, user: User) -> ProjectOut:
    return projects.create_project(ctx.db, user.id, body)


@router.get("/{project_id}", response_model=ProjectOut)
def get_project(project_id: IdPath, ctx: Ctx, access: ProjectReader) -> ProjectOut:
    """The project with its stats; an annotator who may not read everyone's answers gets
    the answer and skip counts and the label distribution of their own answers."""
    sees_gold = access.can(policy.Action.MANAGE_GOLD)
    return projects.get_project(
        ctx.db, project_id, with_stats=True, sees_gold=sees_gold, answers_of=policy.answers_of(access)
    )


@router.post("/{project_id}/items", response_model=AddItemsResult, status_code=201)
def add_items(
    project_id: IdPath, body: AddItemsRequest, ctx: Ctx, user: User, _access: ItemAdder
) -> AddItemsResult:
    ids = items.add_items(ctx.db, project_id, user.id, body.items, ctx.limits)
    return AddItemsResult(created=len(ids), item_ids=ids)


async def _spool(upload: UploadFile, limit: int, suffix: str = "") -> Path:
    """Copy an upload to a temporary file, refusing it past ``limit`` bytes."""
    total = 0
    with tempfile.NamedTemporaryFile(delete=False, suffix=suffix, prefix="hitloop-upload-") as out:
        path = Path(out.name)
        try:
            while chunk := await upload.read(UPLOAD_CHUNK):
                total += len(chunk)
                if total > limit:
                    raise PayloadTooLargeError(
                        f"upload is larger than {limit} bytes", file=upload.filename or "upload"
                    )
                out.write(chunk)
        except BaseException:
            path.unlink(missing_ok=True)
            raise
    return path


async def _read_uploads(files: list[UploadFile], limit: int) -> list[tuple[str, bytes]]:
    """(base name, bytes) of each uploaded file, each spooled under the size limit first."""
    uploads = []
    for upload in files:
        path = await _spool(upload, limit)
        try:
            uploads.append((Path(upload.filename or "upload").name, path.read_bytes()))
        finally:
            path.unlink(missing_ok=True)
    return uploads


async def _check_then_add(
    uploads: list[tuple[str, bytes]],
    check: Callable[[bytes, str], Any],
    add: Callable[[bytes, str, Any], int],
) -> list[int]:
    """All or nothing: every file is checked before the first is stored; what the check found
    goes to the service, which does not decode again. Decoding and storing run off the event loop."""
    checked = [await run_in_threadpool(check, data, name) for name, data in uploads]
    return [
        await run_in_threadpool(add, data, name, info)
        for (name, data), info in zip(uploads, checked, strict=True)
    ]


@router.post("/{project_id}/images", response_model=ImagesResult, status_code=201)
async def upload_images(
    project_id: IdPath,
    ctx: Ctx,
    user: User,
    _access: ItemAdder,
    files: Annotated[list[UploadFile], File()],
) -> ImagesResult:
    uploads = await _read_uploads(files, ctx.settings.max_upload_bytes)
    ids = await _check_then_add(
        uploads,
        lambda data, name: check_image(data, max_pixels=ctx.settings.max_image_pixels, name=name),
        lambda data, name, info: items.add_image(
            ctx.db, ctx.media, project_id, user.id, data, filename=name, limits=ctx.limits, checked=info
        ),
    )
    return ImagesResult(item_ids=ids)


@router.post("/{project_id}/audio", response_model=ImagesResult, status_code=201)
async def upload_audio(
    project_id: IdPath,
    ctx: Ctx,
    user: User,
    _access: ItemAdder,
    files: Annotated[list[UploadFile], File()],
) -> ImagesResult:
    """Add recordings (WAV, FLAC, MP3, OGG) to an audio project, one item each."""
    uploads = await _read_uploads(files, ctx.settings.max_upload_bytes)
    ids = await _check_then_add(
        uploads,
        lambda data, name: check_audio(data, max_seconds=ctx.settings.max_audio_seconds, name=name),
        lambda data, name, info: items.add_audio(
            ctx.db, ctx.media, project_id, user.id, data, filename=name, limits=ctx.limits, checked=info
        ),
    )
    return ImagesResult(item_ids=ids)


@router.get("/{project_id}/transcripts", response_model=TranscriptStats)
def transcript_stats(project_id: IdPath, ctx: Ctx, _access: ProjectReader) -> TranscriptStats:
    """The recognizer's word error rate against people's transcripts, and the typing drafts saved."""
    projects.get_project(ctx.db, project_id)
    return speech.transcript_stats(ctx.db, project_id)


@router.post("/{project_id}/import", response_model=ImportResult, status_code=201)
async def import_file(
    project_id: IdPath,
    ctx: Ctx,
    user: User,
    _access: ItemAdder,
    file: Annotated[UploadFile, File()],
    format: Annotated[Literal["jsonl", "csv", "parquet"] | None, Form()] = None,
    text_field: Annotated[str, Form(max_length=200)] = "text",
    id_field: Annotated[str | None, Form(max_length=200)] = None,
    gold_field: Annotated[str | None, Form(max_length=200)] = None,
) -> ImportResult:
    """Import a JSONL, CSV or Parquet file of text items, all-or-nothing (into text projects only).

    With ``gold_field``, rows carrying a label in that field become gold items with it as their known answer.
    """
    name = Path(file.filename or "upload").name
    project = await run_in_threadpool(projects.get_project, ctx.db, project_id)
    if project.modality is not Modality.TEXT:
        # The rows hold text: a path in them would name a file on the server.
        audio = project.modality is Modality.AUDIO
        route = f"/api/projects/{project_id}/{'audio' if audio else 'images'}"
        raise InputError(
            f"project {project_id} holds {project.modality.value} items; a file import adds text items"
            f" (upload {'recordings' if audio else 'images'} to {route})",
            file=name,
            field="file",
        )
    suffix = Path(name).suffix.lower()
    fmt = format or {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet"}.get(suffix)
    if fmt is None:
        raise InputError("cannot tell the file's format; pass format=jsonl|csv|parquet", file=name)
    path = await _spool(file, ctx.settings.max_upload_bytes, suffix=f".{fmt}")
    try:
        reader = open_reader(
            path, format=fmt, text_field=text_field, id_field=id_field, label_field=gold_field
        )
        records = _renamed(reader, name)
        return await run_in_threadpool(
            items.import_records,
            ctx.db,
            ctx.media,
            project_id,
            user.id,
            records,
            source=name,
            limits=ctx.limits,
            batch_size=ctx.settings.import_batch_size,
            gold_field=gold_field,
        )
    finally:
        path.unlink(missing_ok=True)


def _renamed(records: Iterator[ItemRecord], name: str) -> Iterator[ItemRecord]:
    """Report errors against the uploaded file's name, not the temporary path."""
    try:
        yield from records
    except HitloopError as exc:
        exc.file = name
        raise


@router.post(
    "/{project_id}/next", response_model=NextResponse, openapi_extra=body_schema(NextRequest, required=False)
)
async def next_items(project_id: IdPath, request: Request) -> Response:
    """Lease the next items to label (the hot path: auth and body are parsed by hand)."""
    user = require_user(request)
    ctx: AppContext = request.app.state.ctx
    body = await parse_body(request, NextRequest, default=NextRequest())
    leased = await call_service(
        ctx,
        queue.next_items,
        ctx.db,
        project_id,
        user.id,
        count=body.count,
        have=body.have,
        lease_seconds=ctx.settings.lease_seconds,
        max_leases=ctx.settings.max_leases_per_user,
        caller=user,
    )
    return json_response(NextResponse(items=leased))


@router.post("/{project_id}/release", response_model=ReleaseResult)
def release(
    project_id: IdPath, body: ReleaseRequest, ctx: Ctx, user: User, _access: Annotator
) -> ReleaseResult:
    return ReleaseResult(released=queue.release_items(ctx.db, project_id, user.id, body.item_ids))


@router.get("/{project_id}/history", response_model=list[HistoryEntry])
def history(
    project_id: IdPath,
    ctx: Ctx,
    user: User,
    access: ProjectReader,
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
) -> list[HistoryEntry]:
    projects.get_project(ctx.db, project_id)
    sees_gold = access.can(policy.Action.MANAGE_GOLD)
    entries = annotation_service.history(ctx.db, project_id, user.id, limit=limit, sees_gold=sees_gold)
    return [HistoryEntry(**h) for h in entries]


_MEDIA_TYPES = {
    "jsonl": "application/x-ndjson",
    "csv": "text/csv; charset=utf-8",
    "parquet": "application/vnd.apache.parquet",
}


@router.get("/{project_id}/export", response_class=StreamingResponse)
def export(
    project_id: IdPath,
    ctx: Ctx,
    _access: AnnotationReader,
    format: Annotated[Literal["jsonl", "csv", "parquet"], Query()] = "jsonl",
    include_skipped: bool = False,
) -> StreamingResponse:
    """Stream the project's current annotations (see docs/api.md for the columns)."""
    headers = {"Content-Disposition": f'attachment; filename="project-{project_id}.{format}"'}
    if format != "parquet":
        body = exports.iter_export(ctx.db, project_id, format, include_skipped=include_skipped)
        return StreamingResponse(body, media_type=_MEDIA_TYPES[format], headers=headers)
    # Parquet's footer comes last, so the file is built first and then streamed.
    fd, name = tempfile.mkstemp(suffix=".parquet", prefix="hitloop-export-")
    os.close(fd)
    tmp = Path(name)
    try:
        exports.export_parquet(ctx.db, project_id, str(tmp), include_skipped=include_skipped)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise

    def _file() -> Iterator[bytes]:
        with tmp.open("rb") as f:
            while chunk := f.read(UPLOAD_CHUNK):
                yield chunk

    return StreamingResponse(
        _file(),
        media_type=_MEDIA_TYPES[format],
        headers=headers,
        background=BackgroundTask(lambda: tmp.unlink(missing_ok=True)),
    )
