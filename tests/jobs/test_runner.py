"""Job records and the thread executor, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from hitloop.db.engine import Database
from hitloop.errors import ConflictError, InputError, NotFoundError
from hitloop.jobs import JobContext, JobRegistry, JobRunner, records
from hitloop.schemas import ProjectCreate
from hitloop.services import projects
from hitloop.settings import Settings


def _square_chunk(x: int) -> int:
    return x * x


def _wait_for(db: Database, job_id: int, states: tuple[str, ...], timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = records.get(db, job_id)
        if job.state in states:
            return job
        time.sleep(0.02)
    raise AssertionError(f"job {job_id} still {records.get(db, job_id).state}")


@pytest.fixture
def project(db: Database) -> int:
    return projects.create_project(db, None, ProjectCreate(name="p", labels=["a", "b"])).id


@pytest.fixture
def gate() -> threading.Event:
    return threading.Event()


@pytest.fixture
def registry(gate: threading.Event) -> JobRegistry:
    reg = JobRegistry()

    def squares(ctx: JobContext) -> dict[str, Any]:
        values = ctx.map(_square_chunk, list(range(int(ctx.args["n"]))))
        ctx.progress(0.5, "half way", force=True)
        return {"squares": values}

    def blocked(ctx: JobContext) -> None:
        while not gate.wait(0.01):
            ctx.check_cancelled()

    def broken(ctx: JobContext) -> None:
        raise InputError("training needs two classes", field="labels")

    def crashing(ctx: JobContext) -> None:
        raise ZeroDivisionError("division by zero")

    for name, fn in [("squares", squares), ("blocked", blocked), ("broken", broken), ("crash", crashing)]:
        reg.register(name, fn)
    return reg


@pytest.fixture
def runner(db: Database, settings: Settings, registry: JobRegistry) -> Iterator[JobRunner]:
    r = JobRunner(db, settings, registry, threads=2, poll_s=0.1, heartbeat_s=0.1)
    r.start()
    yield r
    r.stop()


def test_a_queued_job_runs_on_a_thread_and_records_its_result(
    db: Database, runner: JobRunner, project: int
) -> None:
    job = records.create(db, "squares", project_id=project, args={"n": 4})
    assert job.state == "queued"
    done = _wait_for(db, job.id, ("done", "failed"))
    assert done.state == "done", done.error
    assert done.result["squares"] == [0, 1, 4, 9]
    assert done.result["executor"] == "threads" and done.result["chunks"] == 4
    assert done.progress == 1.0 and done.started_at and done.finished_at


def test_failures_are_recorded_with_their_message(db: Database, runner: JobRunner, project: int) -> None:
    failed = _wait_for(db, records.create(db, "broken", project_id=project).id, ("failed",))
    assert failed.error == "field 'labels': training needs two classes"
    crashed = _wait_for(db, records.create(db, "crash", project_id=project).id, ("failed",))
    assert crashed.error == "ZeroDivisionError: division by zero"


def test_a_running_job_stops_when_cancelled(
    db: Database, runner: JobRunner, project: int, gate: threading.Event
) -> None:
    job = records.create(db, "blocked", project_id=project)
    _wait_for(db, job.id, ("running",))
    assert records.cancel(db, job.id).state == "cancelled"
    time.sleep(0.5)  # the job notices at its next check and must not overwrite the state
    assert records.get(db, job.id).state == "cancelled"
    with pytest.raises(ConflictError):
        records.cancel(db, job.id)


def test_jobs_of_one_project_run_one_at_a_time(
    db: Database, runner: JobRunner, project: int, gate: threading.Event
) -> None:
    first = records.create(db, "blocked", project_id=project)
    second = records.create(db, "squares", project_id=project, args={"n": 1})
    other = projects.create_project(db, None, ProjectCreate(name="q", labels=["a", "b"])).id
    third = records.create(db, "squares", project_id=other, args={"n": 1})
    _wait_for(db, first.id, ("running",))
    assert _wait_for(db, third.id, ("done",)).state == "done"  # another project is not held up
    assert records.get(db, second.id).state == "queued"
    gate.set()
    assert _wait_for(db, second.id, ("done",)).state == "done"


def test_racing_claims_start_one_job_per_project(db: Database, project: int) -> None:
    """Many runners claiming at once start at most one job of a project, whatever the timing."""
    for _ in range(5):
        first = records.create(db, "squares", project_id=project, args={"n": 1})
        records.create(db, "squares", project_id=project, args={"n": 1})
        start = threading.Barrier(8)
        claimed: list[int] = []

        def claim_one(start: threading.Barrier = start, claimed: list[int] = claimed) -> None:
            start.wait()
            job = records.claim(db)
            if job is not None:
                claimed.append(job.id)

        threads = [threading.Thread(target=claim_one) for _ in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert claimed == [first.id]
        records.finish(db, first.id, "done")
        second = records.claim(db)
        assert second is not None and second.id == first.id + 1
        records.finish(db, second.id, "done")


def test_a_job_left_running_by_a_crash_is_marked_failed_and_can_be_rerun(
    db: Database, settings: Settings, registry: JobRegistry, project: int
) -> None:
    job = records.create(db, "squares", project_id=project, args={"n": 2})
    claimed = records.claim(db)  # a process took it, then died: no heartbeat follows
    assert claimed is not None and claimed.id == job.id
    runner = JobRunner(db, settings, registry, threads=1, poll_s=0.1, stale_after_s=0.0)
    runner.start()
    try:
        failed = records.get(db, job.id)
        assert failed.state == "failed" and failed.error is not None and "interrupted" in failed.error
        again = records.rerun(db, job.id)
        assert again.kind == "squares" and again.args == {"n": 2, "rerun_of": job.id}
        assert _wait_for(db, again.id, ("done",)).result["squares"] == [0, 1]
    finally:
        runner.stop()


def test_stopping_the_runner_interrupts_running_jobs(
    db: Database, settings: Settings, registry: JobRegistry, project: int
) -> None:
    runner = JobRunner(db, settings, registry, threads=1, poll_s=0.1)
    runner.start()
    job = records.create(db, "blocked", project_id=project)
    _wait_for(db, job.id, ("running",))
    runner.stop()
    stopped = records.get(db, job.id)
    assert stopped.state == "failed" and "re-run" in (stopped.error or "")


def test_bad_requests_name_the_problem(db: Database, project: int) -> None:
    with pytest.raises(NotFoundError):
        records.get(db, 999)
    with pytest.raises(NotFoundError):
        records.create(db, "squares", project_id=999)
    job = records.create(db, "squares", project_id=project)
    with pytest.raises(ConflictError, match="still queued"):
        records.rerun(db, job.id)
