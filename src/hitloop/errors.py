"""The one exception tree of hitloop.

Every error raised on purpose by hitloop derives from :class:`HitloopError`.
It carries a stable machine-readable ``code``, a human message and optional
location fields (``file``, ``line``, ``field``) naming the bad input. The API
maps each class to one HTTP status in ``hitloop.api.errors``; the CLI prints
:meth:`HitloopError.describe`; the SDK re-raises the same classes from the
JSON error body, so callers catch the same types whichever way they call.

The JSON error shape is ``{"error": {"code", "message", "file", "line", "field"}}``.
"""

from __future__ import annotations

from typing import Any, ClassVar

__all__ = [
    "AuthenticationError",
    "ConflictError",
    "HitloopError",
    "InputError",
    "MissingExtraError",
    "NotFoundError",
    "PayloadTooLargeError",
    "PermissionDeniedError",
    "QueueEmptyError",
    "RateLimitedError",
    "UnsupportedMediaError",
    "error_from_payload",
]


class MissingExtraError(ImportError):
    """An optional package is not installed; the message names the extra that brings it.

    An :class:`ImportError`, so code that falls back without the package keeps
    working; the CLI prints the message and exits 2 instead of a traceback.
    """


class HitloopError(Exception):
    """Base class; ``code`` identifies the kind of error on the wire."""

    code: ClassVar[str] = "error"

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.file = file
        self.line = line
        self.field = field

    def to_payload(self) -> dict[str, Any]:
        return {
            "error": {
                "code": self.code,
                "message": self.message,
                "file": self.file,
                "line": self.line,
                "field": self.field,
            }
        }

    def describe(self) -> str:
        """One line for a terminal: ``file:line: field: message``."""
        where = []
        if self.file is not None:
            where.append(self.file if self.line is None else f"{self.file}:{self.line}")
        elif self.line is not None:
            where.append(f"line {self.line}")
        if self.field is not None:
            where.append(f"field {self.field!r}")
        prefix = ", ".join(where)
        return f"{prefix}: {self.message}" if prefix else self.message


class InputError(HitloopError):
    """The request or file is malformed or fails validation."""

    code = "invalid_input"


class NotFoundError(HitloopError):
    """The object does not exist (or the caller may not know it exists)."""

    code = "not_found"


class ConflictError(HitloopError):
    """The request conflicts with the current state (duplicate name, lost lease...)."""

    code = "conflict"


class AuthenticationError(HitloopError):
    """No valid credentials were given."""

    code = "unauthenticated"


class PermissionDeniedError(HitloopError):
    """Credentials are valid but do not allow this action."""

    code = "forbidden"


class PayloadTooLargeError(InputError):
    """An upload or body exceeds the configured limit."""

    code = "too_large"


class UnsupportedMediaError(InputError):
    """A file is not of the type it claims (e.g. not an image)."""

    code = "unsupported_media"


class RateLimitedError(HitloopError):
    """Too many attempts; try again later (``retry_after`` seconds, when known)."""

    code = "rate_limited"

    def __init__(self, message: str, *, retry_after: int | None = None, **where: Any) -> None:
        super().__init__(message, **where)
        self.retry_after = retry_after


class QueueEmptyError(HitloopError):
    """No item is available for this person right now."""

    code = "queue_empty"


_BY_CODE: dict[str, type[HitloopError]] = {
    cls.code: cls
    for cls in (
        HitloopError,
        InputError,
        NotFoundError,
        ConflictError,
        AuthenticationError,
        PermissionDeniedError,
        PayloadTooLargeError,
        UnsupportedMediaError,
        RateLimitedError,
        QueueEmptyError,
    )
}


def error_from_payload(payload: Any) -> HitloopError:
    """Rebuild the exception a JSON error body describes (used by the SDK)."""
    body = payload.get("error") if isinstance(payload, dict) else None
    if not isinstance(body, dict):
        return HitloopError(f"unexpected error response: {payload!r}"[:500])
    cls = _BY_CODE.get(str(body.get("code")), HitloopError)
    line = body.get("line")
    return cls(
        str(body.get("message", "")),
        file=body.get("file"),
        line=line if isinstance(line, int) else None,
        field=body.get("field"),
    )
