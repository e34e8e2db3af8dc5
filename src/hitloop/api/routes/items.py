"""Single items: read one, submit an answer, fetch its media."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import FileResponse

from hitloop.api.context import AppContext
from hitloop.api.deps import Ctx, IdPath, ItemReader, require_user
from hitloop.api.errors import ERROR_RESPONSES
from hitloop.api.hotpath import call_service, json_response, parse_body
from hitloop.schemas import AnnotationIn, AnnotationOut, AudioOut, ItemOut
from hitloop.services import annotations as annotation_service
from hitloop.services import item_view, items, speech
from hitloop.services.policy import Action

router = APIRouter(prefix="/api/items", tags=["items"], responses=ERROR_RESPONSES)


@router.get("/{item_id}", response_model=ItemOut)
def get_item(item_id: IdPath, ctx: Ctx, access: ItemReader) -> ItemOut:
    """The item as the caller reads it: below managers, a gold item reads like any other."""
    return item_view.item_for(ctx.db, item_id, access.user.id, sees_gold=access.can(Action.MANAGE_GOLD))


@router.post(
    "/{item_id}/annotations",
    response_model=AnnotationOut,
    status_code=201,
    responses={
        200: {"model": AnnotationOut, "description": "A replay of an earlier submit (same client_key)"}
    },
)
async def submit(item_id: IdPath, request: Request) -> Response:
    """Record an answer (the hot path: auth and body are parsed by hand)."""
    user = require_user(request)
    ctx: AppContext = request.app.state.ctx
    body = await parse_body(request, AnnotationIn)
    out = await call_service(ctx, annotation_service.submit, ctx.db, user.id, item_id, body, caller=user)
    return json_response(out, status_code=200 if out.replayed else 201)


@router.get(
    "/{item_id}/media",
    response_class=Response,
    responses={
        200: {"content": {"image/png": {}, "image/jpeg": {}, "audio/wav": {}, "audio/mpeg": {}}},
        206: {"description": "The byte range asked for with a Range header (seeking in audio)"},
        416: {"description": "The Range header asks for bytes past the end of the file"},
    },
)
def media(item_id: IdPath, request: Request, ctx: Ctx, _access: ItemReader) -> Response:
    """The item's file; honours ``Range`` (206, 416) so players can seek without downloading it all."""
    _project_id, sha, content_type = items.get_media(ctx.db, item_id)
    headers = {
        "ETag": f'"{sha}"',
        # Content-addressed: the bytes behind this URL never change.
        "Cache-Control": "private, max-age=31536000, immutable",
        "X-Content-Type-Options": "nosniff",
    }
    if request.headers.get("if-none-match") == f'"{sha}"':
        return Response(status_code=304, headers=headers)
    return FileResponse(ctx.media.path_for(sha), media_type=content_type, headers=headers)


@router.get("/{item_id}/audio", response_model=AudioOut)
def audio(item_id: IdPath, ctx: Ctx, _access: ItemReader) -> AudioOut:
    """A recording's length, waveform peaks and transcription draft, for the player."""
    return speech.audio_info(ctx.db, ctx.media, item_id)
