"""Refuse request bodies over the configured size before reading them whole."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["BodySizeLimit"]

Scope = dict[str, Any]


class BodySizeLimit:
    """Pure ASGI middleware: 413 for a Content-Length, or a streamed body, past ``limit``."""

    def __init__(self, app: Any, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    too_big = int(value) > self.limit
                except ValueError:
                    too_big = False
                if too_big:
                    await self._refuse(send)
                    return
        seen = 0
        refused = False

        async def limited_receive() -> Any:
            nonlocal seen, refused
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    refused = True
                    raise _TooLarge
            return message

        started = False

        async def tracking_send(message: Any) -> None:
            nonlocal started
            if refused:
                # The app caught the refusal (a form parser turns it into "400: error parsing
                # the body"): answer 413 instead, and drop the app's own response.
                if not started:
                    started = True
                    await self._refuse(send)
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except _TooLarge:
            if not started:
                await self._refuse(send)
        except Exception:
            if refused and not started:
                await self._refuse(send)
            else:
                raise

    async def _refuse(self, send: Any) -> None:
        body = json.dumps(
            {
                "error": {
                    "code": "too_large",
                    "message": f"request body is larger than {self.limit} bytes",
                    "file": None,
                    "line": None,
                    "field": None,
                }
            }
        ).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


class _TooLarge(Exception):
    pass
