"""``hitloop train`` and ``hitloop jobs``: the model loop's background work from the terminal.

Jobs live in the database. A running server picks queued jobs up; ``--wait``
and ``jobs wait`` follow one with a progress bar. ``train --wait`` runs the
job in this process when no server has taken it, so it works without a server.
"""

from __future__ import annotations

import threading
import time

import click

from hitloop.cli.errors import CommandError
from hitloop.cli.options import open_context, quiet_option, settings_options
from hitloop.cli.progress import progress_bar
from hitloop.cli.render import table
from hitloop.db.engine import Database
from hitloop.jobs import JobRunner, records
from hitloop.schemas import JobOut
from hitloop.services import jobs as job_service
from hitloop.settings import Settings

__all__ = ["jobs", "train"]

POLL_S = 0.2


def _follow(db: Database, job_id: int, *, quiet: bool, timeout: float | None = None) -> JobOut:
    """Poll a job until it ends, with a progress bar on a terminal."""
    deadline = None if timeout is None else time.monotonic() + timeout
    with progress_bar(100, unit="%", quiet=quiet) as bar:
        while True:
            job = records.get(db, job_id)
            bar.set_description_str(job.message[:40] or job.state)
            bar.n = round(job.progress * 100)
            bar.refresh()
            if job.state in records.FINISHED:
                return job
            if deadline is not None and time.monotonic() > deadline:
                raise CommandError(f"job {job_id} is still {job.state} after {timeout:g} s")
            time.sleep(POLL_S)


def _report(job: JobOut) -> None:
    if job.state == records.DONE:
        click.echo(f"Job {job.id} ({job.kind}) done in {_seconds(job)}.")
        result = job.result or {}
        if "model_version_id" in result:
            accuracy = result.get("accuracy")
            shown = "n/a (too few labels per class)" if accuracy is None else f"{accuracy:.3f}"
            click.echo(
                f"Model version {result['model_version_id']}: {result.get('n_train')} labels,"
                f" cross-validated accuracy {shown}; {result.get('scored', 0):,} items scored."
            )
        return
    raise CommandError(f"job {job.id} ({job.kind}) {job.state}: {job.error or job.message}")


def _seconds(job: JobOut) -> str:
    if job.started_at is None or job.finished_at is None:
        return "-"
    return f"{(job.finished_at - job.started_at).total_seconds():.1f} s"


@click.command("train")
@click.argument("project_id", type=int)
@click.option("--wait", is_flag=True, help="Wait for the model (runs the job here if no server takes it).")
@quiet_option
@settings_options
def train(project_id: int, wait: bool, quiet: bool, settings: Settings) -> None:
    """Retrain a project's model now, then rescore its unlabeled items."""
    from hitloop.services import retrain
    from hitloop.services.jobs import builtin_jobs

    with open_context(settings) as ctx:
        job, created = retrain.request_training(ctx.db, project_id, None)
        click.echo(
            f"{'Queued' if created else 'Already queued:'} train job {job.id} for project {project_id}."
        )
        if not wait:
            return
        runner = JobRunner(ctx.db, ctx.settings, builtin_jobs())
        # Claimed here unless a server got it first; either way, follow it.
        worker = threading.Thread(target=runner.run_next, kwargs={"job_id": job.id}, daemon=True)
        worker.start()
        try:
            ended = _follow(ctx.db, job.id, quiet=quiet)
        finally:
            worker.join()
            runner.mapper.close()
        _report(ended)


@click.group("jobs")
def jobs() -> None:
    """List, inspect, wait for, cancel and re-run background jobs."""


@jobs.command("list")
@click.option("--project", "project_id", type=int, default=None, help="Only this project's jobs.")
@click.option(
    "--state",
    type=click.Choice(["queued", "running", "done", "failed", "cancelled"]),
    default=None,
    help="Only jobs in this state.",
)
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@settings_options
def list_jobs(project_id: int | None, state: str | None, limit: int, settings: Settings) -> None:
    """The newest jobs first."""
    with open_context(settings) as ctx:
        found = records.list_jobs(ctx.db, project_id=project_id, state=state, limit=limit)
    rows = [
        (
            j.id,
            j.project_id or "",
            j.kind,
            j.state,
            f"{j.progress:.0%}",
            _seconds(j),
            (j.error or j.message)[:60],
        )
        for j in found
    ]
    click.echo(
        table(["ID", "PROJECT", "KIND", "STATE", "PROGRESS", "TIME", "MESSAGE"], rows, right=[0, 1, 4])
    )


@jobs.command("show")
@click.argument("job_id", type=int)
@settings_options
def show_job(job_id: int, settings: Settings) -> None:
    """One job: state, progress, timings, result or error."""
    with open_context(settings) as ctx:
        j = records.get(ctx.db, job_id)
    lines = [
        f"Job {j.id}: {j.kind}" + (f" (project {j.project_id})" if j.project_id else ""),
        f"  state:     {j.state}",
        f"  progress:  {j.progress:.0%} {j.message}",
        f"  created:   {j.created_at:%Y-%m-%d %H:%M:%S}",
        f"  time:      {_seconds(j)}",
    ]
    if j.args:
        lines.append(f"  args:      {j.args}")
    if j.error:
        lines.append(f"  error:     {j.error}")
    for key, value in (j.result or {}).items():
        if key != "batch":
            lines.append(f"  {key + ':':<10} {value}")
    click.echo("\n".join(lines))


@jobs.command("wait")
@click.argument("job_id", type=int)
@click.option(
    "--timeout", type=click.FloatRange(min=0), default=None, help="Give up after this many seconds."
)
@quiet_option
@settings_options
def wait_job(job_id: int, timeout: float | None, quiet: bool, settings: Settings) -> None:
    """Wait for a job to end (a server runs it); exit status 2 if it failed or was cancelled."""
    with open_context(settings) as ctx:
        _report(_follow(ctx.db, job_id, quiet=quiet, timeout=timeout))


@jobs.command("cancel")
@click.argument("job_id", type=int)
@settings_options
def cancel_job(job_id: int, settings: Settings) -> None:
    """Cancel a queued job; a running one stops at its next check."""
    with open_context(settings) as ctx:
        job = job_service.cancel_job(ctx.db, job_id, None)
    click.echo(f"Job {job.id} {job.state}.")


@jobs.command("rerun")
@click.argument("job_id", type=int)
@settings_options
def rerun_job(job_id: int, settings: Settings) -> None:
    """Queue a new job like an ended one (e.g. one a crash interrupted)."""
    with open_context(settings) as ctx:
        job = job_service.rerun_job(ctx.db, job_id, None)
    click.echo(f"Queued {job.kind} job {job.id}.")
