"""hitloop's HTTP protocol (hitloop.api.protocol) on a real socket: one write per small response."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx

from hitloop.api.protocol import HttpProtocol
from tests.servers import running_server

WRITES: list[bytes] = []


class _Recording:
    """The real transport, with every write it is given recorded."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self._transport = transport

    def write(self, data: bytes) -> None:
        WRITES.append(bytes(data))
        self._transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class RecordingProtocol(HttpProtocol):
    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(_Recording(transport))  # type: ignore[arg-type]


def _exchange(url: str, raw: bytes, *, responses: int | None = None) -> bytes:
    """Send ``raw``; read until ``responses`` bodies of /api/health came, or the server closed."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as sock:
        sock.sendall(raw)
        got = b""
        while responses is None or got.count(b'{"status":"ok"}') < responses:
            chunk = sock.recv(65536)
            if not chunk:
                break
            got += chunk
        return got


def test_small_responses_go_out_in_one_write_each(app: Any) -> None:
    with running_server(app, protocol=RecordingProtocol) as url:
        WRITES.clear()
        request = b"GET /api/health HTTP/1.1\r\nHost: x\r\n\r\n"
        got = _exchange(url, request * 3, responses=3)
        assert got.count(b"HTTP/1.1 200 OK") == 3 and got.count(b'{"status":"ok"}') == 3
        # Each response: status line, headers and body in one write (uvicorn alone makes two).
        assert len(WRITES) == 3
        assert all(w.startswith(b"HTTP/1.1 200 OK\r\n") and w.endswith(b'{"status":"ok"}') for w in WRITES)


def test_closing_streamed_and_error_responses_arrive_whole(app: Any, auth_headers: dict[str, str]) -> None:
    with running_server(app, protocol=RecordingProtocol) as url:
        closing = _exchange(url, b"GET /api/health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert closing.startswith(b"HTTP/1.1 200 OK") and closing.endswith(b'{"status":"ok"}')
        missing = _exchange(url, b"GET /api/nothing-here HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert missing.startswith(b"HTTP/1.1 404") and b'"code":"not_found"' in missing
        with httpx.Client(base_url=url, headers=auth_headers, timeout=10) as client:
            pid = client.post("/api/projects", json={"name": "p", "labels": ["a", "b"]}).json()["id"]
            texts = [{"text": f"item {i} " + "x" * 200} for i in range(300)]
            assert client.post(f"/api/projects/{pid}/items", json={"items": texts}).status_code == 201
            for _ in range(300):
                (item,) = client.post(f"/api/projects/{pid}/next", json={"count": 1}).json()["items"]
                body = {"value": {"label": "a"}, "client_key": f"key-{item['id']:06d}"}
                assert client.post(f"/api/items/{item['id']}/annotations", json=body).status_code == 201
            export = client.get(f"/api/projects/{pid}/export")  # a streamed response
        assert export.status_code == 200 and len(export.text.splitlines()) == 300
