"""Images: box quality and COCO export of boxes projects; thumbnails, viewer renderings, 16-bit samples."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import FileResponse

from hitloop.api.deps import AnnotationReader, Ctx, IdPath, ItemReader
from hitloop.api.errors import ERROR_RESPONSES
from hitloop.errors import NotFoundError, UnsupportedMediaError
from hitloop.media import renditions
from hitloop.services import boxes, items

router = APIRouter(tags=["boxes"], responses=ERROR_RESPONSES)


@router.get("/api/projects/{project_id}/boxes/quality")
def box_quality(
    project_id: IdPath,
    ctx: Ctx,
    _access: AnnotationReader,
    iou: Annotated[float, Query(gt=0.0, le=1.0, description="IoU at which two boxes match")] = 0.5,
) -> dict[str, Any]:
    """Suggested boxes kept, moved and deleted; precision/recall of suggestions; IoU agreement."""
    return boxes.box_quality(ctx.db, project_id, threshold=iou)


@router.get("/api/projects/{project_id}/coco")
def coco_export(project_id: IdPath, ctx: Ctx, _access: AnnotationReader) -> dict[str, Any]:
    """The project's current box answers as a COCO object-detection document."""
    return boxes.export_coco(ctx.db, project_id)


_IMMUTABLE = {"Cache-Control": "private, max-age=31536000, immutable", "X-Content-Type-Options": "nosniff"}


def _cached(request: Request, etag: str) -> Response | None:
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers={**_IMMUTABLE, "ETag": etag})
    return None


@router.get(
    "/api/items/{item_id}/thumbnail",
    response_class=Response,
    responses={200: {"content": {"image/jpeg": {}, "image/png": {}}}},
)
def thumbnail(item_id: IdPath, request: Request, ctx: Ctx, _access: ItemReader) -> Response:
    """A small JPEG (PNG with transparency) of the item's image, at most 256 px a side."""
    _project_id, sha, _type = items.get_media(ctx.db, item_id)
    etag = f'"{sha}-t256"'
    if (hit := _cached(request, etag)) is not None:
        return hit
    path, content_type = renditions.thumbnail(ctx.media, sha)
    return FileResponse(path, media_type=content_type, headers={**_IMMUTABLE, "ETag": etag})


@router.get(
    "/api/items/{item_id}/view",
    response_class=Response,
    responses={200: {"content": {"image/png": {}, "image/jpeg": {}}}},
)
def view(item_id: IdPath, request: Request, ctx: Ctx, _access: ItemReader) -> Response:
    """The image as a browser can draw it: the stored file, or an 8-bit PNG rendering of a
    TIFF or 16-bit grayscale image (then ``X-Hitloop-Samples: 1`` says the raw samples exist)."""
    _project_id, sha, content_type = items.get_media(ctx.db, item_id)
    if not content_type.startswith("image/"):
        raise UnsupportedMediaError(f"item {item_id} holds {content_type}, not an image", field="item_id")
    etag = f'"{sha}-view"'
    if (hit := _cached(request, etag)) is not None:
        return hit
    headers = {**_IMMUTABLE, "ETag": etag}
    if not renditions.needs_view(ctx.media, sha, content_type):
        return FileResponse(ctx.media.path_for(sha), media_type=content_type, headers=headers)
    if renditions.gray_samples(ctx.media, sha) is not None:
        headers["X-Hitloop-Samples"] = "1"
    return FileResponse(renditions.view(ctx.media, sha), media_type="image/png", headers=headers)


@router.get(
    "/api/items/{item_id}/samples",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def samples(item_id: IdPath, request: Request, ctx: Ctx, _access: ItemReader) -> Response:
    """Raw little-endian uint16 samples of a 16-bit grayscale image, row by row, for window/level.

    Headers ``X-Width``, ``X-Height``, ``X-Low`` and ``X-High`` (the sample range).
    """
    _project_id, sha, _type = items.get_media(ctx.db, item_id)
    found = renditions.gray_samples(ctx.media, sha)
    if found is None:
        raise NotFoundError(f"item {item_id} is not a 16-bit grayscale image", field="item_id")
    path, info = found
    headers = {
        **_IMMUTABLE,
        "ETag": f'"{sha}-u16"',
        "X-Width": str(info.width),
        "X-Height": str(info.height),
        "X-Low": str(info.low),
        "X-High": str(info.high),
    }
    return FileResponse(path, media_type="application/octet-stream", headers=headers)
