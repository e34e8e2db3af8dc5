"""Application factory for the benchmark server.

``python -m uvicorn --factory --app-dir benchmarks _server:app`` with
``HITLOOP_DATA_DIR`` / ``HITLOOP_DATABASE_URL`` in the environment.

With ``HITLOOP_BENCH_STATS=PATH`` each server process keeps ``PATH.<pid>``
up to date (within a second, and at exit): how many database connections it
opened. Many more than the pool size means the pool churns.

``HITLOOP_BENCH_TWEAKS`` (comma-separated ``name=value``) applies what-if
runtime settings that measure a proposed server change without touching
``src/``. They are for comparison runs only; loop.py records them in its JSON.

- ``threads=N``: at most N threads run sync endpoints and dependencies at once
  (AnyIO's default limiter is 40).
- ``switchinterval=S``: ``sys.setswitchinterval(S)`` (CPython's default is
  0.005 s): how long a thread that wants the GIL back waits for a busy holder.
"""

from __future__ import annotations

import os
import sys
import time
from typing import Any

TWEAKS = ("threads", "switchinterval")


def tweaks() -> dict[str, str]:
    out = {}
    for part in os.environ.get("HITLOOP_BENCH_TWEAKS", "").split(","):
        if part.strip():
            name, _, value = part.partition("=")
            if name.strip() not in TWEAKS:
                raise SystemExit(f"unknown tweak {name!r}; known: {', '.join(TWEAKS)}")
            out[name.strip()] = value.strip()
    return out


class _ThreadLimit:
    """Set AnyIO's thread limiter on the first event (it lives in the running loop)."""

    def __init__(self, app: Any, threads: int) -> None:
        self.app = app
        self.threads = threads
        self.done = False

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if not self.done:
            import anyio.to_thread

            anyio.to_thread.current_default_thread_limiter().total_tokens = self.threads
            self.done = True
        await self.app(scope, receive, send)


def _count_connections() -> None:
    """Count database connections opened by this process, for loop.py."""
    path = os.environ.get("HITLOOP_BENCH_STATS")
    if not path:
        return
    import atexit
    import json

    from sqlalchemy import event
    from sqlalchemy.pool import Pool

    opened = [0]
    written = [0.0]

    def write() -> None:
        with open(f"{path}.{os.getpid()}", "w") as f:
            json.dump({"db_connections_opened": opened[0]}, f)

    def on_connect(_dbapi: Any, _record: Any) -> None:
        opened[0] += 1
        # uvicorn's worker processes end with os._exit (no atexit): write as we go,
        # at most once a second.
        now = time.monotonic()
        if now - written[0] > 1.0:
            written[0] = now
            write()

    event.listen(Pool, "connect", on_connect)

    atexit.register(write)


def app() -> Any:
    from hitloop.api import create_app

    _count_connections()
    chosen = tweaks()
    if "switchinterval" in chosen:
        sys.setswitchinterval(float(chosen["switchinterval"]))
    asgi: Any = create_app()
    if "threads" in chosen:
        asgi = _ThreadLimit(asgi, int(chosen["threads"]))
    return asgi
