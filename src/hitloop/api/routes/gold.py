"""Gold items: mark known answers, list them, and each annotator's accuracy on them."""

from __future__ import annotations

from fastapi import APIRouter, Response

from hitloop.api.deps import Ctx, GoldManager, IdPath
from hitloop.api.errors import ERROR_RESPONSES
from hitloop.schemas import GoldAccuracy, GoldItemOut, GoldRequest, GoldResult
from hitloop.services import gold

router = APIRouter(prefix="/api/projects", tags=["gold"], responses=ERROR_RESPONSES)


@router.get("/{project_id}/gold", response_model=list[GoldItemOut])
def list_gold(project_id: IdPath, ctx: Ctx, _access: GoldManager) -> list[GoldItemOut]:
    return gold.list_gold(ctx.db, project_id)


@router.post("/{project_id}/gold", response_model=GoldResult)
def mark_gold(project_id: IdPath, body: GoldRequest, ctx: Ctx, access: GoldManager) -> GoldResult:
    """Give items their known answers (by item_id or external_id); all or nothing."""
    return GoldResult(changed=gold.mark_gold(ctx.db, access.user.id, project_id, body.items))


@router.delete("/{project_id}/gold/{item_id}", status_code=204)
def unmark_gold(project_id: IdPath, item_id: IdPath, ctx: Ctx, access: GoldManager) -> Response:
    """Make a gold item a regular item again."""
    gold.unmark_gold(ctx.db, access.user.id, project_id, [item_id])
    return Response(status_code=204)


@router.get("/{project_id}/gold/accuracy", response_model=list[GoldAccuracy])
def gold_accuracy(project_id: IdPath, ctx: Ctx, _access: GoldManager) -> list[GoldAccuracy]:
    """Each member's answers on gold items and how many were right."""
    return gold.accuracy(ctx.db, project_id)
