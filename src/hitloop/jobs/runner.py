"""The executor: threads in this process that claim queued jobs and run them.

Nothing to start by hand: the server starts a runner with the app and stops
it on shutdown (unless ``job_threads`` is 0), and ``hitloop worker`` runs one
in a process of its own. Chunked work inside a job (featurizing, pool scoring) runs in
the job's thread, or on a Dask cluster's workers when a scheduler address is
configured (:class:`~hitloop.jobs.chunks.DaskMapper`).
"""

from __future__ import annotations

import logging
import threading
import time
import traceback
from typing import Any

from hitloop.db.engine import Database
from hitloop.errors import HitloopError
from hitloop.jobs import records
from hitloop.jobs.chunks import ChunkMapper, DaskMapper, LocalMapper
from hitloop.jobs.context import JobCancelled, JobContext, JobInterrupted
from hitloop.jobs.registry import JobRegistry
from hitloop.schemas import JobOut
from hitloop.settings import Settings

__all__ = ["JobRunner", "make_mapper"]

log = logging.getLogger("hitloop.jobs")


def make_mapper(settings: Settings) -> ChunkMapper:
    """Dask when ``dask_scheduler`` is set, else the calling thread."""
    if settings.dask_scheduler:
        return DaskMapper(settings.dask_scheduler)
    return LocalMapper()


class JobRunner:
    """Claims and runs jobs on ``threads`` worker threads.

    Parameters
    ----------
    poll_s : float
        How often idle threads look for jobs queued by other processes
        (a CLI, another server worker); jobs queued here wake them at once.
    stale_after_s : float
        A ``running`` job whose heartbeat is this old is marked failed
        ("interrupted"): checked at start and on every poll.
    """

    def __init__(
        self,
        db: Database,
        settings: Settings,
        registry: JobRegistry,
        *,
        threads: int | None = None,
        mapper: ChunkMapper | None = None,
        poll_s: float = 1.0,
        heartbeat_s: float = 5.0,
        stale_after_s: float = 30.0,
    ) -> None:
        self.db = db
        self.settings = settings
        self.registry = registry
        self.threads = threads or settings.job_threads
        self.mapper = mapper or make_mapper(settings)
        self.poll_s = poll_s
        self.heartbeat_s = heartbeat_s
        self.stale_after_s = stale_after_s
        self._wake = threading.Condition()
        self._pending = 0
        self._stop = threading.Event()
        self._workers: list[threading.Thread] = []
        self._running: dict[int, JobContext] = {}
        self._lock = threading.Lock()

    # -- lifecycle -------------------------------------------------------------------------------

    def start(self) -> None:
        records.mark_interrupted(self.db, stale_after_s=self.stale_after_s)
        self.db.memo["jobs_wake"] = self.wake
        self._stop.clear()
        for i in range(self.threads):
            t = threading.Thread(target=self._loop, name=f"hitloop-job-{i}", daemon=True)
            t.start()
            self._workers.append(t)
        beat = threading.Thread(target=self._beat, name="hitloop-job-heartbeat", daemon=True)
        beat.start()
        self._workers.append(beat)

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop claiming; running jobs stop at their next check and are marked failed (re-runnable)."""
        self._stop.set()
        with self._lock:
            for context in self._running.values():
                context.stopping.set()
        with self._wake:
            self._wake.notify_all()  # every idle thread, not just one, so stopping takes no poll interval
        deadline = time.monotonic() + timeout_s
        for t in self._workers:
            t.join(max(0.0, deadline - time.monotonic()))
        self._workers.clear()
        if self.db.memo.get("jobs_wake") == self.wake:
            del self.db.memo["jobs_wake"]
        self.mapper.close()

    def wake(self) -> None:
        with self._wake:
            self._pending += 1
            self._wake.notify()

    # -- work ------------------------------------------------------------------------------------

    def _loop(self) -> None:
        next_sweep = time.monotonic() + self.poll_s
        while not self._stop.is_set():
            try:
                ran = self.run_next()
                if time.monotonic() >= next_sweep:
                    next_sweep = time.monotonic() + self.poll_s
                    records.mark_interrupted(self.db, stale_after_s=self.stale_after_s)
            except Exception:  # the loop must survive a database hiccup; the job itself is recorded
                log.exception("job runner loop")
                ran = False
            if not ran:
                with self._wake:
                    if self._pending == 0 and not self._stop.is_set():
                        self._wake.wait(self.poll_s)
                    self._pending = max(0, self._pending - 1)

    def _beat(self) -> None:
        while not self._stop.wait(self.heartbeat_s):
            with self._lock:
                ids = list(self._running)
            try:
                records.heartbeat(self.db, ids)
            except Exception:
                log.exception("job heartbeat")

    def run_next(self, *, job_id: int | None = None) -> bool:
        """Claim one queued job (or ``job_id``) and run it to its end here; False if none was claimable."""
        job = records.claim(self.db, job_id=job_id, kinds=tuple(self.registry))
        if job is None:
            return False
        self.run_claimed(job)
        return True

    def run_claimed(self, job: JobOut) -> None:
        context = JobContext(
            job_id=job.id,
            kind=job.kind,
            project_id=job.project_id,
            args=job.args,
            db=self.db,
            settings=self.settings,
            mapper=self.mapper,
        )
        if self._stop.is_set():
            context.stopping.set()
        with self._lock:
            self._running[job.id] = context
        started = time.monotonic()
        try:
            result = self.registry[job.kind](context) or {}
        except JobCancelled:
            records.finish(self.db, job.id, records.CANCELLED, message="cancelled")
        except JobInterrupted as exc:
            records.finish(self.db, job.id, records.FAILED, error=f"{exc}; re-run it", message="interrupted")
        except HitloopError as exc:
            records.finish(self.db, job.id, records.FAILED, error=exc.describe(), message="failed")
        except Exception as exc:
            log.warning("job %s (%s) failed:\n%s", job.id, job.kind, traceback.format_exc())
            records.finish(
                self.db, job.id, records.FAILED, error=f"{type(exc).__name__}: {exc}", message="failed"
            )
        else:
            result = {
                **result,
                "seconds": round(time.monotonic() - started, 3),
                "executor": self.mapper.name,
                "chunks": context.chunks,
                "workers": len(context.workers),
            }
            records.finish(self.db, job.id, records.DONE, result=result, message="done")
            self._after(job, result)
        finally:
            with self._lock:
                self._running.pop(job.id, None)

    def _after(self, job: JobOut, result: dict[str, Any]) -> None:
        follow = result.get("follow_up")
        if isinstance(follow, dict) and follow.get("kind") in self.registry:
            # e.g. a train job whose project gathered enough new labels while it ran.
            records.create(
                self.db, str(follow["kind"]), project_id=job.project_id, args=dict(follow.get("args") or {})
            )
