"""Running the queue's service calls from async routes.

SQLite work is short, CPU-bound and serialized by one write lock, so the
queue routes call it directly on the event loop: a hop to the thread pool
would cost more than the call. PostgreSQL calls wait on the network, so they
go to the thread pool and let the loop serve other requests meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

from fastapi import Request, Response
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool

from hitloop.api.context import AppContext
from hitloop.errors import InputError

__all__ = ["body_schema", "call_service", "json_response", "parse_body"]

M = TypeVar("M", bound=BaseModel)

P = ParamSpec("P")
T = TypeVar("T")


async def call_service(ctx: AppContext, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    if ctx.db.is_sqlite:
        return fn(*args, **kwargs)
    return await run_in_threadpool(fn, *args, **kwargs)


def json_response(model: BaseModel, status_code: int = 200) -> Response:
    """Serialize once with pydantic's Rust encoder, skipping FastAPI's re-validation."""
    return Response(model.model_dump_json(), status_code=status_code, media_type="application/json")


async def parse_body(request: Request, model: type[M], *, default: M | None = None) -> M:
    """Validate a JSON body with pydantic's parser directly (cheaper than FastAPI's body solving)."""
    raw = await request.body()
    if not raw.strip() and default is not None:
        return default
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ())) or None
        raise InputError(str(first.get("msg", "invalid body")), field=field) from None


def body_schema(model: type[BaseModel], *, required: bool = True) -> dict[str, Any]:
    """``openapi_extra`` documenting a body that the route parses itself with :func:`parse_body`."""
    return {
        "requestBody": {
            "required": required,
            "content": {
                "application/json": {
                    "schema": model.model_json_schema(ref_template="#/components/schemas/{model}")
                }
            },
        }
    }
