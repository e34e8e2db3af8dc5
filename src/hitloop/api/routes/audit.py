"""Audit logs, a page at a time or whole: a project's (owners), the instance's (administrators)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from hitloop.api.deps import Admin, AuditReader, Ctx, IdPath
from hitloop.api.errors import ERROR_RESPONSES
from hitloop.schemas import MAX_ID, AuditPage
from hitloop.services import audit

router = APIRouter(prefix="/api", tags=["audit"], responses=ERROR_RESPONSES)

_MEDIA_TYPES = {"jsonl": "application/x-ndjson", "csv": "text/csv; charset=utf-8"}


Before = Annotated[int | None, Query(ge=1, le=MAX_ID)]
Limit = Annotated[int, Query(ge=1, le=500)]
Format = Annotated[Literal["jsonl", "csv"], Query()]


@router.get("/projects/{project_id}/audit", response_model=AuditPage)
def audit_log(
    project_id: IdPath,
    ctx: Ctx,
    _access: AuditReader,
    before: Before = None,
    limit: Limit = 50,
) -> AuditPage:
    """The project's events, newest first; pass ``next_before`` back as ``before`` for older ones."""
    return audit.list_events(ctx.db, project_id, before=before, limit=limit)


@router.get("/projects/{project_id}/audit/export", response_class=StreamingResponse)
def export_audit(
    project_id: IdPath, ctx: Ctx, _access: AuditReader, format: Format = "jsonl"
) -> StreamingResponse:
    """The whole audit log, oldest first, as JSON lines or CSV."""
    headers = {"Content-Disposition": f'attachment; filename="project-{project_id}-audit.{format}"'}
    body = audit.iter_audit_export(ctx.db, project_id, format)
    return StreamingResponse(body, media_type=_MEDIA_TYPES[format], headers=headers)


@router.get("/audit", response_model=AuditPage)
def instance_audit_log(ctx: Ctx, _admin: Admin, before: Before = None, limit: Limit = 50) -> AuditPage:
    """Administrators: the events of no project (users created, sessions, API tokens), newest first."""
    return audit.list_instance_events(ctx.db, before=before, limit=limit)


@router.get("/audit/export", response_class=StreamingResponse)
def export_instance_audit(ctx: Ctx, _admin: Admin, format: Format = "jsonl") -> StreamingResponse:
    """Administrators: the instance's whole audit log, oldest first, as JSON lines or CSV."""
    headers = {"Content-Disposition": f'attachment; filename="instance-audit.{format}"'}
    body = audit.iter_instance_audit_export(ctx.db, format)
    return StreamingResponse(body, media_type=_MEDIA_TYPES[format], headers=headers)
