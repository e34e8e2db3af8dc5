"""HTTP plumbing for the SDK: auth header, retries, and errors translated to hitloop's tree.

A request is retried only when repeating it cannot change the outcome: always
when it never left this machine (the connection was refused), and for
idempotent requests (reads, or a submit carrying its ``client_key``) also when
the connection broke mid-way or a gateway answered 502/503/504.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from hitloop.errors import AuthenticationError, HitloopError, error_from_payload

__all__ = ["RETRY_STATUSES", "ConnectionFailedError", "FilesFactory", "HttpSession", "parse"]

RETRY_STATUSES = frozenset({502, 503, 504})
MAX_DELAY_S = 30.0
USER_AGENT = "hitloop-python"

# Raised before any byte of the request reached the server.
_NOT_SENT: tuple[type[httpx.TransportError], ...] = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
)

M = TypeVar("M", bound=BaseModel)

# Opens the files of a multipart body (registering them on the stack) for one attempt.
FilesFactory = Callable[[ExitStack], list[tuple[str, tuple[str, Any, str]]]]


class ConnectionFailedError(HitloopError):
    """The server could not be reached, or did not answer, after all retries."""

    code = "connection_failed"


def parse(model: type[M], data: Any) -> M:
    """Validate a response body; a mismatch means client and server disagree on the API."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise HitloopError(f"unexpected {model.__name__} from the server: {exc}"[:1000]) from None


class HttpSession:
    """One ``httpx.Client`` plus the retry policy; owns the connection pool."""

    def __init__(
        self,
        url: str,
        token: str | None,
        *,
        transport: httpx.BaseTransport | None,
        timeout: float | httpx.Timeout,
        retries: int,
        backoff: float,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if retries < 0:
            raise ValueError("retries must be >= 0")
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._has_token = bool(token)
        self.retries = retries
        self.backoff = backoff
        self._sleep = sleep
        self._http = httpx.Client(base_url=url, headers=headers, timeout=timeout, transport=transport)

    def close(self) -> None:
        self._http.close()

    def call(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        json: Any = None,
        json_bytes: bytes | None = None,
        params: dict[str, Any] | None = None,
        data: dict[str, str] | None = None,
        files: FilesFactory | None = None,
        timeout: float | httpx.Timeout | None = None,
    ) -> Any:
        """Send a request and return its decoded JSON body (``None`` when empty).

        ``json`` is encoded here; ``json_bytes`` is a body already encoded as JSON.
        """
        response = self._send(
            method,
            path,
            idempotent=idempotent,
            json=json,
            json_bytes=json_bytes,
            params=params,
            data=data,
            files=files,
            timeout=timeout,
        )
        if not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise HitloopError(f"{method} {path}: the server did not answer JSON") from None

    def content(self, path: str, *, params: dict[str, Any] | None = None) -> bytes:
        """GET raw bytes (media)."""
        return self._send("GET", path, idempotent=True, params=params).content

    @contextmanager
    def stream(
        self, path: str, *, params: dict[str, Any] | None = None, timeout: float | httpx.Timeout | None = None
    ) -> Iterator[httpx.Response]:
        """GET a response whose body is read as it arrives; the caller iterates inside the block."""
        response = self._send("GET", path, idempotent=True, params=params, timeout=timeout, stream=True)
        try:
            yield response
        except httpx.TransportError as exc:
            raise _connection_failed("GET", path, exc, maybe_applied=False) from exc
        except httpx.RequestError as exc:
            raise HitloopError(f"GET {path} failed: {type(exc).__name__}: {exc}") from exc
        finally:
            response.close()

    def _send(
        self,
        method: str,
        path: str,
        *,
        idempotent: bool,
        json: Any = None,
        json_bytes: bytes | None = None,
        params: dict[str, Any] | None = None,
        data: dict[str, str] | None = None,
        files: FilesFactory | None = None,
        timeout: float | httpx.Timeout | None = None,
        stream: bool = False,
    ) -> httpx.Response:
        """Send with retries; return a 2xx response (body read unless ``stream``) or raise."""
        attempt = 0
        while True:
            delay = self.backoff * 2**attempt
            with ExitStack() as stack:
                extra: dict[str, Any] = {}
                if files is not None:
                    extra["files"] = files(stack)
                if timeout is not None:
                    extra["timeout"] = timeout
                if json_bytes is not None:  # a body the caller encoded already
                    extra.update(content=json_bytes, headers={"Content-Type": "application/json"})
                request = self._http.build_request(method, path, json=json, params=params, data=data, **extra)
                response: httpx.Response | None = None
                try:
                    response = self._http.send(request, stream=True)
                    if not (stream and response.is_success):
                        response.read()
                except httpx.RequestError as exc:
                    if response is not None:
                        response.close()
                    if not isinstance(exc, httpx.TransportError):
                        raise HitloopError(f"{method} {path} failed: {type(exc).__name__}: {exc}") from exc
                    if not (idempotent or isinstance(exc, _NOT_SENT)) or attempt >= self.retries:
                        maybe_applied = not idempotent and not isinstance(exc, _NOT_SENT)
                        raise _connection_failed(method, path, exc, maybe_applied=maybe_applied) from exc
                else:
                    transient = idempotent and response.status_code in RETRY_STATUSES
                    if not transient or attempt >= self.retries:
                        if response.is_success:
                            return response
                        error = _error_for(method, path, response, maybe_applied=not idempotent)
                        if isinstance(error, AuthenticationError) and not self._has_token:
                            error = AuthenticationError(error.message + _NO_TOKEN, field=error.field)
                        raise error
                    delay = _retry_after(response) or delay
            self._sleep(min(delay, MAX_DELAY_S))
            attempt += 1


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return min(MAX_DELAY_S, max(0.0, float(response.headers["retry-after"])))
    except (KeyError, ValueError):
        return None


_MAYBE_APPLIED = " (the server may have applied it; check before repeating)"
# The server's "log in or send an API token" is about browsers too; an SDK user needs the how.
_NO_TOKEN = (
    " (this client has none: pass Client(token=...) or set HITLOOP_TOKEN;"
    " `hitloop tokens create --user NAME` makes one)"
)


def _connection_failed(
    method: str, path: str, exc: Exception, *, maybe_applied: bool
) -> ConnectionFailedError:
    hint = _MAYBE_APPLIED if maybe_applied else ""
    return ConnectionFailedError(f"{method} {path} failed: {type(exc).__name__}: {exc}{hint}")


def _error_for(method: str, path: str, response: httpx.Response, *, maybe_applied: bool) -> HitloopError:
    try:
        payload = response.json()
    except ValueError:
        payload = None
    if isinstance(payload, dict) and isinstance(payload.get("error"), dict):
        return error_from_payload(payload)
    # Not a hitloop error body: a proxy, or not a hitloop server at all.
    snippet = response.text[:200].strip()
    message = f"{method} {path}: HTTP {response.status_code}" + (f": {snippet}" if snippet else "")
    if response.status_code in RETRY_STATUSES:
        return ConnectionFailedError(message + (_MAYBE_APPLIED if maybe_applied else ""))
    return HitloopError(message)
