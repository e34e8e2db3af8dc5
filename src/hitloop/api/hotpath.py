"""Running the queue's service calls from async routes.

SQLite work is short, CPU-bound and serialized by one write lock, so the
queue routes call it directly on the event loop: a hop to the thread pool
would cost more than the call. PostgreSQL calls wait on the network, so they
go to the thread pool and let the loop serve other requests meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from fastapi import Response
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool

from hitloop.api.context import AppContext

__all__ = ["call_service", "json_response"]

P = ParamSpec("P")
T = TypeVar("T")


async def call_service(ctx: AppContext, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    if ctx.db.is_sqlite:
        return fn(*args, **kwargs)
    return await run_in_threadpool(fn, *args, **kwargs)


def json_response(model: BaseModel, status_code: int = 200) -> Response:
    """Serialize once with pydantic's Rust encoder, skipping FastAPI's re-validation."""
    return Response(model.model_dump_json(), status_code=status_code, media_type="application/json")
