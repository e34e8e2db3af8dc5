"""Background jobs: records on the ``jobs`` table plus an executor (DESIGN §4.4).

:mod:`.records` creates, claims and ends job rows; :mod:`.registry` names the
job kinds; :mod:`.runner` runs them on threads in the server process (or in
``hitloop worker`` processes), with
chunked work on a Dask cluster when ``HITLOOP_DASK_SCHEDULER`` is set
(:mod:`.chunks`).
"""

from hitloop.jobs.chunks import ChunkMapper, DaskMapper, LocalMapper
from hitloop.jobs.context import JobCancelled, JobContext, JobInterrupted
from hitloop.jobs.registry import JobFunction, JobRegistry
from hitloop.jobs.runner import JobRunner, make_mapper

__all__ = [
    "ChunkMapper",
    "DaskMapper",
    "JobCancelled",
    "JobContext",
    "JobFunction",
    "JobInterrupted",
    "JobRegistry",
    "JobRunner",
    "LocalMapper",
    "make_mapper",
]
