"""The model loop from Python: train, follow jobs, read model versions, choose strategy and learner."""

from __future__ import annotations

import time
from typing import Any

from hitloop.client.session import HttpSession, parse
from hitloop.errors import HitloopError
from hitloop.schemas import JobOut, LoopSettings, ModelsOut

__all__ = ["JobFailedError", "LoopMethods"]

FINISHED = ("done", "failed", "cancelled")


class JobFailedError(HitloopError):
    """A job this client waited for failed or was cancelled; ``job`` holds its record."""

    code = "job_failed"

    def __init__(self, job: JobOut) -> None:
        super().__init__(f"job {job.id} ({job.kind}) {job.state}: {job.error or job.message}", field="job_id")
        self.job = job


class LoopMethods:
    """Methods of :class:`hitloop.Client` for the model loop."""

    _session: HttpSession

    def train(self, project_id: int, *, wait: bool = False, timeout: float = 600.0) -> JobOut:
        """Retrain now (or get the train job already queued or running); ``wait`` until it ends."""
        job = parse(JobOut, self._session.call("POST", f"/api/projects/{project_id}/train", idempotent=True))
        return self.wait_job(job.id, timeout=timeout) if wait else job

    def start_job(self, project_id: int, kind: str, **args: Any) -> JobOut:
        """Queue a ``featurize``, ``score``, ``faces`` or ``transcribe`` job.

        ``args`` are the kind's options, e.g. ``start_job(2, "transcribe", redo=True, limit=10)``.
        """
        body = self._session.call(
            "POST", f"/api/projects/{project_id}/jobs", idempotent=False, json={"kind": kind, "args": args}
        )
        return parse(JobOut, body)

    def jobs(self, project_id: int, *, state: str | None = None, limit: int = 50) -> list[JobOut]:
        """The project's jobs, newest first."""
        params: dict[str, Any] = {"limit": limit}
        if state is not None:
            params["state"] = state
        body = self._session.call("GET", f"/api/projects/{project_id}/jobs", idempotent=True, params=params)
        return [parse(JobOut, j) for j in body]

    def job(self, job_id: int) -> JobOut:
        return parse(JobOut, self._session.call("GET", f"/api/jobs/{job_id}", idempotent=True))

    def wait_job(self, job_id: int, *, timeout: float = 600.0, poll: float = 0.25) -> JobOut:
        """Poll until the job ends; raises :class:`JobFailedError` if it failed or was cancelled."""
        deadline = time.monotonic() + timeout
        while True:
            job = self.job(job_id)
            if job.state == "done":
                return job
            if job.state in FINISHED:
                raise JobFailedError(job)
            if time.monotonic() > deadline:
                raise TimeoutError(f"job {job_id} still {job.state} after {timeout:g} s")
            time.sleep(poll)

    def cancel_job(self, job_id: int) -> JobOut:
        return parse(JobOut, self._session.call("POST", f"/api/jobs/{job_id}/cancel", idempotent=True))

    def rerun_job(self, job_id: int) -> JobOut:
        return parse(JobOut, self._session.call("POST", f"/api/jobs/{job_id}/rerun", idempotent=False))

    def models(self, project_id: int) -> ModelsOut:
        """Model versions, learning curve, stopping signal and latest jobs."""
        return parse(
            ModelsOut, self._session.call("GET", f"/api/projects/{project_id}/models", idempotent=True)
        )

    def loop_settings(self, project_id: int) -> LoopSettings:
        return parse(
            LoopSettings, self._session.call("GET", f"/api/projects/{project_id}/loop", idempotent=True)
        )

    def update_loop_settings(self, project_id: int, **changes: Any) -> LoopSettings:
        """Change some of: strategy, learner, learner_params, retrain_every, auto_retrain, batch."""
        body = self._session.call("PATCH", f"/api/projects/{project_id}/loop", idempotent=True, json=changes)
        return parse(LoopSettings, body)
