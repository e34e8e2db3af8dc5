"""Response shapes the API declares next to its routes rather than in :mod:`hitloop.schemas`.

``tests/client/test_models.py`` checks they match the server's.
"""

from __future__ import annotations

from pydantic import BaseModel

from hitloop.schemas import AnnotationOut, ItemOut, UserOut

__all__ = ["Health", "HistoryEntry", "ImagesResult", "Me", "ReleaseResult"]


class Health(BaseModel):
    status: str


class HistoryEntry(BaseModel):
    annotation: AnnotationOut
    item: ItemOut


class Me(BaseModel):
    user: UserOut
    csrf_token: str | None = None


class ImagesResult(BaseModel):
    item_ids: list[int]


class ReleaseResult(BaseModel):
    released: int
