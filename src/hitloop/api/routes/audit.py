"""A project's audit log: read a page at a time, or export it whole."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from hitloop.api.deps import AuditReader, Ctx, IdPath
from hitloop.api.errors import ERROR_RESPONSES
from hitloop.schemas import MAX_ID, AuditPage
from hitloop.services import audit

router = APIRouter(prefix="/api/projects", tags=["audit"], responses=ERROR_RESPONSES)

_MEDIA_TYPES = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}


@router.get("/{project_id}/audit", response_model=AuditPage)
def audit_log(
    project_id: IdPath,
    ctx: Ctx,
    _access: AuditReader,
    before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> AuditPage:
    """The project's events, newest first; pass ``next_before`` back as ``before`` for older ones."""
    return audit.list_events(ctx.db, project_id, before=before, limit=limit)


@router.get("/{project_id}/audit/export", response_class=StreamingResponse)
def export_audit(
    project_id: IdPath,
    ctx: Ctx,
    _access: AuditReader,
    format: Annotated[Literal["jsonl", "csv"], Query()] = "jsonl",
) -> StreamingResponse:
    """The whole audit log, oldest first, as JSON lines or CSV."""
    headers = {"Content-Disposition": f'attachment; filename="project-{project_id}-audit.{format}"'}
    body = audit.iter_audit_export(ctx.db, project_id, format)
    return StreamingResponse(body, media_type=_MEDIA_TYPES[format], headers=headers)
