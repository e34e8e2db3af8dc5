"""Application factory for the benchmark server.

``python -m uvicorn --factory --app-dir benchmarks _server:app`` with
``HITLOOP_DATA_DIR`` / ``HITLOOP_DATABASE_URL`` in the environment.

``HITLOOP_BENCH_EXPERIMENTS`` (comma-separated) turns on what-if patches that
measure a proposed server change without touching ``src/``. They are for
comparison runs only and are reported in the benchmark's JSON:

- ``write-lock``: one process-wide lock around every write transaction, so
  threads queue in Python instead of in SQLite's sleeping busy handler.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from typing import Any

EXPERIMENTS = {"write-lock"}


def enabled() -> set[str]:
    raw = os.environ.get("HITLOOP_BENCH_EXPERIMENTS", "")
    return {x.strip() for x in raw.split(",") if x.strip()}


def _patch_write_lock() -> None:
    from hitloop.db.engine import Database

    original = Database.write
    lock = threading.RLock()

    @contextlib.contextmanager
    def write(self: Database) -> Iterator[Any]:
        with lock, original(self) as session:
            yield session

    Database.write = write  # type: ignore[method-assign]


def app() -> Any:
    from hitloop.api import create_app

    if "write-lock" in enabled():
        _patch_write_lock()
    return create_app()
