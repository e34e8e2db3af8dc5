"""``hitloop worker``: run background jobs in a process of their own.

A job holds the interpreter lock in numpy and scikit-learn while it runs; on
the server's own threads that delays the annotators' requests. A worker runs
the same :class:`~hitloop.jobs.JobRunner` away from the server: set
``HITLOOP_JOB_THREADS=0`` for the server and start one or more workers on the
same database (claims are safe across processes).
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType

import click

from hitloop.cli.options import open_context, safe_url, settings_options
from hitloop.settings import Settings

__all__ = ["run_worker", "worker"]

log = logging.getLogger("hitloop.worker")

DEFAULT_THREADS: int = Settings.model_fields["job_threads"].default


def run_worker(settings: Settings, threads: int) -> None:
    """Run jobs on ``threads`` threads until SIGINT or SIGTERM."""
    from hitloop.jobs import JobRunner
    from hitloop.services.jobs import builtin_jobs

    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("%s received, stopping", signal.Signals(signum).name)
        stop.set()

    with open_context(settings) as ctx:
        runner = JobRunner(ctx.db, ctx.settings, builtin_jobs(), threads=threads)
        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            runner.start()
            click.echo(
                f"hitloop worker is running jobs on {threads} thread{'s' if threads != 1 else ''}"
                f" from {safe_url(settings.resolved_database_url())} (press Ctrl+C to stop)"
            )
            while not stop.wait(1.0):  # a timed wait, so signals are handled in this thread
                pass
        finally:
            # As on the server's shutdown: running jobs stop at their next check and are
            # marked failed ("interrupted"), to be re-run.
            runner.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        click.echo("hitloop worker stopped.")


@click.command()
@click.option(
    "--threads",
    type=click.IntRange(1, 64),
    default=None,
    help=(
        "Threads that run jobs [default: HITLOOP_JOB_THREADS, else"
        f" {DEFAULT_THREADS} when that is 0 (the server's setting for running no jobs)]."
    ),
)
@settings_options
def worker(threads: int | None, settings: Settings) -> None:
    """Run background jobs (featurize, train, score) in this process until Ctrl+C.

    For big projects on more than one core: start the server with
    HITLOOP_JOB_THREADS=0 and one or more workers on the same database, so
    training does not slow down the annotators' requests.
    """
    logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")  # warnings and up
    logging.getLogger("hitloop").setLevel(logging.INFO)  # and hitloop's own news (not alembic's)
    run_worker(settings, threads or settings.job_threads or DEFAULT_THREADS)
