"""A minimal HTTP/1.1 keep-alive client over ``asyncio.open_connection``.

Just enough for the load generator: one request at a time per connection,
``Content-Length`` request bodies, ``Content-Length`` or chunked response
bodies, reconnect when the server says ``Connection: close``. It costs a
fraction of the CPU of httpx per request, which matters when the clients and
the server share a 2-core machine.
"""

from __future__ import annotations

import asyncio
import contextlib

__all__ = ["Connection", "HTTPError"]


class HTTPError(Exception):
    """The connection failed or the response could not be parsed."""


class Connection:
    def __init__(self, host: str, port: int, headers: dict[str, str] | None = None) -> None:
        self.host = host
        self.port = port
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self._fixed = f"Host: {host}:{port}\r\n{extra}".encode("latin-1")

    async def _connect(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        writer, self._reader, self._writer = self._writer, None, None
        if writer is not None:
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()

    async def request(self, method: str, path: str, body: bytes | None = None) -> tuple[int, bytes]:
        """Send one request and return (status, body). Raises HTTPError on connection trouble."""
        if self._writer is None:
            await self._connect()
        assert self._reader is not None and self._writer is not None
        head = f"{method} {path} HTTP/1.1\r\n".encode("latin-1") + self._fixed
        if body is not None:
            head += b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
            self._writer.write(head + body)
        else:
            self._writer.write(head + b"\r\n")
        try:
            raw = await self._reader.readuntil(b"\r\n\r\n")
            status_line, _, header_block = raw.partition(b"\r\n")
            parts = status_line.split(b" ", 2)
            if len(parts) < 2 or not parts[0].startswith(b"HTTP/1."):
                raise HTTPError(f"bad status line {status_line[:80]!r}")
            status = int(parts[1])
            length = -1
            chunked = False
            close = parts[0] == b"HTTP/1.0"
            for line in header_block.split(b"\r\n"):
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"transfer-encoding":
                    chunked = b"chunked" in value.lower()
                elif name == b"connection":
                    close = value.strip().lower() == b"close"
            if chunked:
                data = await self._read_chunked()
            elif length >= 0:
                data = await self._reader.readexactly(length) if length else b""
            else:  # no length: the body runs to the end of the connection
                data = await self._reader.read()
                close = True
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            await self.close()
            raise HTTPError(f"{type(exc).__name__}: {exc}") from None
        except BaseException:
            # Cancelled mid-response: the connection is in an unknown state.
            await self.close()
            raise
        if close:
            await self.close()
        return status, data

    async def _read_chunked(self) -> bytes:
        assert self._reader is not None
        out = bytearray()
        while True:
            size_line = await self._reader.readuntil(b"\r\n")
            size = int(size_line.split(b";", 1)[0], 16)
            if size == 0:
                await self._reader.readuntil(b"\r\n")  # no trailers expected
                return bytes(out)
            out += await self._reader.readexactly(size)
            await self._reader.readexactly(2)
