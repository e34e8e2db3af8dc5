"""Background jobs: list, follow, cancel, re-run."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from hitloop.api.deps import Ctx, IdPath, User
from hitloop.api.errors import ERROR_RESPONSES
from hitloop.errors import NotFoundError
from hitloop.jobs import records
from hitloop.schemas import JobOut, JobRequest
from hitloop.services import jobs as job_service
from hitloop.services import policy
from hitloop.services.auth import CurrentUser
from hitloop.services.policy import Action

router = APIRouter(tags=["jobs"], responses=ERROR_RESPONSES)

JobState = Literal["queued", "running", "done", "failed", "cancelled"]


def _job(ctx: Ctx, user: CurrentUser, job_id: int, action: Action) -> JobOut:
    job = records.get(ctx.db, job_id)
    if job.project_id is None:
        if not user.is_admin:
            raise NotFoundError(f"job {job_id} not found", field="job_id")
        return job
    try:
        policy.project_access(ctx.db, user, job.project_id, action)
    except NotFoundError:
        raise NotFoundError(f"job {job_id} not found", field="job_id") from None
    return job


@router.get("/api/projects/{project_id}/jobs", response_model=list[JobOut])
def list_jobs(
    project_id: IdPath,
    ctx: Ctx,
    user: User,
    state: Annotated[JobState | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[JobOut]:
    """The project's jobs, newest first."""
    policy.project_access(ctx.db, user, project_id, Action.READ_PROJECT)
    return records.list_jobs(ctx.db, project_id=project_id, state=state, limit=limit)


@router.post("/api/projects/{project_id}/jobs", response_model=JobOut, status_code=202)
def start_job(project_id: IdPath, body: JobRequest, ctx: Ctx, user: User) -> JobOut:
    """Queue a featurize, score, faces or transcribe job for the project, with the kind's ``args``."""
    policy.project_access(ctx.db, user, project_id, Action.UPDATE_PROJECT)
    return job_service.request_job(ctx.db, body.kind, project_id, user.id, body.args)


@router.get("/api/jobs/{job_id}", response_model=JobOut)
def get_job(job_id: IdPath, ctx: Ctx, user: User) -> JobOut:
    return _job(ctx, user, job_id, Action.READ_PROJECT)


@router.post("/api/jobs/{job_id}/cancel", response_model=JobOut)
def cancel_job(job_id: IdPath, ctx: Ctx, user: User) -> JobOut:
    """Cancel a queued job, or ask a running one to stop at its next check."""
    _job(ctx, user, job_id, Action.UPDATE_PROJECT)
    return job_service.cancel_job(ctx.db, job_id, user.id)


@router.post("/api/jobs/{job_id}/rerun", response_model=JobOut, status_code=202)
def rerun_job(job_id: IdPath, ctx: Ctx, user: User) -> JobOut:
    """Queue a new job with the kind and arguments of an ended one (e.g. one a crash interrupted)."""
    _job(ctx, user, job_id, Action.UPDATE_PROJECT)
    return job_service.rerun_job(ctx.db, job_id, user.id)
