"""SDK fixtures: a :class:`Client` wired to the in-process app through a transport that can fail on cue."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import func, select

from hitloop.client import Client
from hitloop.db.tables import Annotation
from hitloop.schemas import ProjectOut


@dataclass
class Fault:
    method: str
    path: str  # a regular expression the whole URL path must match
    how: type[httpx.TransportError] | int  # raise this, or answer this status instead
    reach_server: bool
    times: int


class FaultyTransport(httpx.BaseTransport):
    """Passes requests to the app, except those a :class:`Fault` breaks; records every request."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.faults: list[Fault] = []
        self.calls: list[tuple[str, str]] = []

    def fail(
        self,
        method: str,
        path: str,
        how: type[httpx.TransportError] | int,
        *,
        reach_server: bool = True,
        times: int = 1,
    ) -> None:
        """Break the next ``times`` matching requests, after (or before) the app handled them."""
        self.faults.append(Fault(method, path, how, reach_server, times))

    def count(self, method: str, path: str) -> int:
        return sum(1 for m, p in self.calls if m == method and re.fullmatch(path, p))

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.calls.append((request.method, request.url.path))
        fault = next(
            (
                f
                for f in self.faults
                if f.times > 0 and f.method == request.method and re.fullmatch(f.path, request.url.path)
            ),
            None,
        )
        if fault is None:
            return self._forward(request)
        fault.times -= 1
        if fault.reach_server:
            # The server does the work; only its answer is lost on the way back.
            self._forward(request)
        if isinstance(fault.how, int):
            return httpx.Response(fault.how, text="upstream unavailable", request=request)
        raise fault.how("simulated network failure", request=request)

    def _forward(self, request: httpx.Request) -> httpx.Response:
        """The app's response as an ``httpx.Response``.

        With ``httpx2`` installed, Starlette's test transport is built on it and
        answers with its own response class, which ``httpx.Client`` refuses: copy it.
        """
        response = self.inner.handle_request(request)
        if isinstance(response, httpx.Response):
            return response
        body = response.read()
        return httpx.Response(
            response.status_code, headers=list(response.headers.multi_items()), content=body, request=request
        )

    def close(self) -> None:
        self.inner.close()


@pytest.fixture
def transport(client) -> FaultyTransport:  # type: ignore[no-untyped-def]
    return FaultyTransport(client._transport)


@pytest.fixture
def sdk(transport: FaultyTransport, token: str) -> Iterator[Client]:
    """An SDK client authenticated as the administrator, retrying without waiting."""
    with Client("http://testserver", token, transport=transport, backoff=0) as c:
        yield c


@pytest.fixture
def project(sdk: Client) -> ProjectOut:
    return sdk.create_project("Sentiment", ["pos", "neg", "neutral"])


@pytest.fixture
def count_annotations(ctx):  # type: ignore[no-untyped-def]
    """Rows in the annotations table, read straight from the database."""

    def count() -> int:
        with ctx.db.read() as s:
            return int(s.scalar(select(func.count()).select_from(Annotation)) or 0)

    return count
