"""The one mapping from hitloop errors to HTTP statuses, and the one JSON error shape."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from hitloop.errors import (
    AuthenticationError,
    ConflictError,
    HitloopError,
    InputError,
    NotFoundError,
    PayloadTooLargeError,
    PermissionDeniedError,
    QueueEmptyError,
    RateLimitedError,
    UnsupportedMediaError,
)

__all__ = ["ERROR_RESPONSES", "ErrorBody", "install_error_handlers", "status_for"]

# Most specific first: the first class an error is an instance of decides its status.
_STATUS: list[tuple[type[HitloopError], int]] = [
    (PayloadTooLargeError, 413),
    (UnsupportedMediaError, 415),
    (InputError, 422),
    (NotFoundError, 404),
    (QueueEmptyError, 404),
    (ConflictError, 409),
    (AuthenticationError, 401),
    (PermissionDeniedError, 403),
    (RateLimitedError, 429),
]

_HTTP_CODES = {
    400: "invalid_input",
    401: "unauthenticated",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media",
    422: "invalid_input",
    429: "rate_limited",
}


class ErrorDetail(BaseModel):
    code: str
    message: str
    file: str | None = None
    line: int | None = None
    field: str | None = None


class ErrorBody(BaseModel):
    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in [
        (401, "Not logged in"),
        (403, "Not allowed"),
        (404, "Not found"),
        (409, "Conflict"),
        (413, "Too large"),
        (415, "Unsupported media"),
        (422, "Invalid input"),
    ]
}


def status_for(exc: HitloopError) -> int:
    for cls, status in _STATUS:
        if isinstance(exc, cls):
            return status
    return 500


def _json(status: int, payload: dict[str, Any], headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(payload, status_code=status, headers=headers)


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(HitloopError)
    async def _hitloop(_request: Request, exc: HitloopError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if isinstance(exc, AuthenticationError) else None
        if isinstance(exc, RateLimitedError) and exc.retry_after is not None:
            headers = {"Retry-After": str(exc.retry_after)}
        return _json(status_for(exc), exc.to_payload(), headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        body_error = _body_error(first, request.headers.get("content-type"))
        if body_error is not None:
            return _json(422, body_error.to_payload())
        loc = [str(p) for p in first.get("loc", ()) if p not in ("body", "query", "path")]
        field = ".".join(loc) or None
        message = str(first.get("msg", "invalid request"))
        return _json(422, InputError(message, field=field).to_payload())

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "error")
        body = {
            "error": {"code": code, "message": str(exc.detail), "file": None, "line": None, "field": None}
        }
        return _json(exc.status_code, body, getattr(exc, "headers", None))


def _body_error(error: dict[str, Any], content_type: str | None) -> InputError | None:
    """Say what is wrong with a JSON body as a whole, in words a curl user can act on.

    Pydantic's own messages for these ("Field required", "Input should be a valid
    dictionary...", "JSON decode error" with the character offset as the field) name
    neither the body nor the fix.
    """
    loc = tuple(error.get("loc", ()))
    kind = error.get("type")
    if kind == "json_invalid" and loc[:1] == ("body",):
        where = f" at character {loc[1]}" if len(loc) > 1 else ""
        reason = (error.get("ctx") or {}).get("error", "")
        return InputError(f"the request body is not valid JSON{where}" + (f": {reason}" if reason else ""))
    if loc != ("body",):
        return None
    if kind == "missing":
        return InputError("the request body is missing: send a JSON object (Content-Type: application/json)")
    if kind in ("model_attributes_type", "model_type", "dict_type"):
        # FastAPI parses a body without a Content-Type as JSON, and hands any other type over as bytes.
        media_type = (content_type or "").split(";")[0].strip().lower()
        if media_type and media_type != "application/json" and not media_type.endswith("+json"):
            return InputError(
                f"the request body must be JSON, sent with Content-Type: application/json (got {media_type})"
            )
        return InputError("the request body must be a JSON object")
    return None
