"""The labeling loop's two hot routes, dispatched without the router's walk.

Every annotation is one ``POST /api/projects/{id}/next`` and one
``POST /api/items/{id}/annotations``. Both endpoints already read their user
and body by hand (:mod:`hitloop.api.hotpath`); what was left per request was
FastAPI's machinery around them: the exception middleware, a linear match
over every route of the app, and the request-handler wrapper, about 40% of
the server's CPU per annotation (pyinstrument on the in-process app).

:class:`Shortcut` sits in the middleware stack (inside the server-error
middleware, so an unexpected error still becomes the usual 500). For
exactly these method + path shapes with a valid id, it calls the same
endpoint function the router would, and turns an error into a response with
the app's own exception handlers. Everything else, including an id the
route would refuse, falls through to the router unchanged, so the API, its
OpenAPI document and its error messages stay as they were.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI, Request, Response

from hitloop.schemas import MAX_ID

__all__ = ["Endpoint", "Shortcut"]

Endpoint = Callable[[int, Request], Awaitable[Response]]


class Shortcut:
    """Pure ASGI middleware: ``routes`` maps (method, path regex with one id group) to an endpoint."""

    def __init__(self, app: Any, fastapi: FastAPI, routes: list[tuple[str, str, Endpoint]]) -> None:
        self.app = app
        self.fastapi = fastapi
        self.routes = [(method, re.compile(pattern), endpoint) for method, pattern, endpoint in routes]

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            method = scope["method"]
            for route_method, pattern, endpoint in self.routes:
                if method != route_method:
                    continue
                match = pattern.fullmatch(scope["path"])
                if match is None:
                    continue
                ident = int(match[1])
                if 1 <= ident <= MAX_ID:
                    await self._serve(endpoint, ident, scope, receive, send)
                    return
                break  # the router answers an id out of range with its own 422
        await self.app(scope, receive, send)

    async def _serve(self, endpoint: Endpoint, ident: int, scope: Any, receive: Any, send: Any) -> None:
        request = Request(scope, receive)
        try:
            response = await endpoint(ident, request)
        except Exception as exc:
            handler = self._handler_for(exc)
            if handler is None:
                raise
            result = handler(request, exc)
            response = await result if inspect.isawaitable(result) else result
        await response(scope, receive, send)

    def _handler_for(self, exc: Exception) -> Callable[..., Any] | None:
        handlers = self.fastapi.exception_handlers
        for cls in type(exc).__mro__:
            if cls in handlers:
                return handlers[cls]
        return None
