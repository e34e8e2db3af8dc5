"""What a running job sees: its record, the database, settings, progress and cancellation."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from hitloop.db.engine import Database
from hitloop.jobs import records
from hitloop.jobs.chunks import ChunkMapper
from hitloop.settings import Settings

__all__ = ["JobCancelled", "JobContext", "JobInterrupted"]

T = TypeVar("T")
R = TypeVar("R")

_PROGRESS_EVERY_S = 0.25


class JobCancelled(Exception):
    """Raised inside a job by :meth:`JobContext.check_cancelled` once someone cancelled it."""


class JobInterrupted(Exception):
    """Raised inside a job when its executor stops (the server shuts down)."""


@dataclass
class JobContext:
    """Handed to a job function. ``progress`` and ``check_cancelled`` are cheap to call often."""

    job_id: int
    kind: str
    project_id: int | None
    args: dict[str, Any]
    db: Database
    settings: Settings
    mapper: ChunkMapper
    stopping: threading.Event = field(default_factory=threading.Event)
    #: Chunks sent through :meth:`map` and the distinct workers that computed them.
    chunks: int = 0
    workers: set[str] = field(default_factory=set)
    _last_write: float = 0.0
    _last_check: float = 0.0
    #: The part of the job's 0..1 that ``progress`` fills now (see :meth:`stage`).
    _span: tuple[float, float] = (0.0, 1.0)

    def progress(self, fraction: float, message: str = "", *, force: bool = False) -> None:
        """Record progress (0..1 of the current stage) and a message; written at most 4 times a second."""
        now = time.monotonic()
        if not force and now - self._last_write < _PROGRESS_EVERY_S:
            return
        self._last_write = now
        low, high = self._span
        overall = low + min(max(float(fraction), 0.0), 1.0) * (high - low)
        records.set_progress(self.db, self.job_id, overall, message)

    @contextmanager
    def stage(self, start: float, end: float) -> Iterator[None]:
        """Run a step that reports its own 0..1 as ``start``..``end`` of the current stage.

        A step shared by several jobs (featurizing, inside training) counts from 0 to 1;
        nested in a bigger job it must not send that job's bar back or jump it ahead.
        """
        low, high = self._span
        self._span = (low + start * (high - low), low + end * (high - low))
        try:
            yield
        finally:
            self._span = (low, high)

    def check_cancelled(self) -> None:
        """Raise :class:`JobCancelled` if the job was cancelled, :class:`JobInterrupted` if stopping."""
        if self.stopping.is_set():
            raise JobInterrupted("interrupted: the job runner stopped")
        now = time.monotonic()
        if now - self._last_check < _PROGRESS_EVERY_S:
            return
        self._last_check = now
        if records.state_of(self.db, self.job_id) == records.CANCELLED:
            raise JobCancelled(f"job {self.job_id} was cancelled")

    def map(self, fn: Callable[[T], R], chunks: Sequence[T]) -> list[R]:
        """``[fn(c) for c in chunks]``, on the cluster's workers when a Dask scheduler is configured."""
        self.check_cancelled()
        results, workers = self.mapper.map(fn, chunks)
        self.chunks += len(chunks)
        self.workers |= workers
        return results
