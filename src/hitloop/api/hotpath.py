"""Running the queue's service calls from async routes.

SQLite work is short, CPU-bound and serialized by one write lock, so the
queue routes call it directly on the event loop: a hop to the thread pool
would cost more than the call. PostgreSQL calls wait on the network, so they
go to a thread pool and let the loop serve other requests meanwhile.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, ParamSpec, TypeVar

from fastapi import Request, Response
from pydantic import BaseModel, ValidationError

from hitloop.api.context import AppContext
from hitloop.errors import InputError

__all__ = ["body_schema", "call_service", "json_response", "parse_body"]

M = TypeVar("M", bound=BaseModel)

P = ParamSpec("P")
T = TypeVar("T")


# PostgreSQL calls run on a plain thread pool of their own: handing a call to
# concurrent.futures' pool (a C queue) costs less than anyio's worker threads
# (a Python queue and conditions, a capacity limiter, a cancel scope), which
# showed as a fifth of the server's CPU per annotation under py-spy. Each call
# mostly waits on the network, so a few threads keep up with many clients
# (8 and 16 measured the same with 32 clients; benchmarks.md).
_THREADS = 16
_executor: ThreadPoolExecutor | None = None


def _pool() -> ThreadPoolExecutor:
    global _executor
    if _executor is None:
        _executor = ThreadPoolExecutor(max_workers=_THREADS, thread_name_prefix="hitloop-service")
    return _executor


async def call_service(ctx: AppContext, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    if ctx.db.is_sqlite:
        return fn(*args, **kwargs)
    call = functools.partial(contextvars.copy_context().run, fn, *args, **kwargs)
    return await asyncio.get_running_loop().run_in_executor(_pool(), call)


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
