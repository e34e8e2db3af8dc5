"""Review queues and decisions; agreement, consensus and anchoring of a project's answers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from hitloop.api.deps import AnnotationReader, Ctx, IdPath, ProjectEditor, Reviewer, User
from hitloop.api.errors import ERROR_RESPONSES
from hitloop.errors import NotFoundError
from hitloop.schemas import (
    AgreementOut,
    AnchoringOut,
    ConsensusMethod,
    ConsensusOut,
    ReviewDecision,
    ReviewQueue,
    ReviewResult,
)
from hitloop.services import agreement, consensus, policy, review

router = APIRouter(prefix="/api", tags=["review"], responses=ERROR_RESPONSES)

Method = Annotated[str | None, Query(max_length=50, description="an aggregator name, or auto")]


@router.get("/projects/{project_id}/review", response_model=ReviewQueue)
def review_queue(
    project_id: IdPath,
    ctx: Ctx,
    access: Reviewer,
    queue: review.QueueName = "pending",
    limit: Annotated[int, Query(ge=1, le=200)] = 20,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> ReviewQueue:
    """A reviewer's queue: unreviewed answers, disagreeing answers, or likely label errors."""
    return review.review_queue(
        ctx.db, ctx.media, project_id, queue, access.user.id, limit=limit, offset=offset
    )


@router.post("/annotations/{annotation_id}/review", response_model=ReviewResult)
def review_annotation(annotation_id: IdPath, body: ReviewDecision, ctx: Ctx, user: User) -> ReviewResult:
    """Accept, fix (with the corrected value) or reject one answer."""
    project_id = review.annotation_project(ctx.db, annotation_id)
    try:
        policy.project_access(ctx.db, user, project_id, policy.Action.REVIEW)
    except NotFoundError:
        raise NotFoundError(f"annotation {annotation_id} not found", field="annotation_id") from None
    return review.review_annotation(ctx.db, user.id, annotation_id, body)


@router.get("/projects/{project_id}/agreement", response_model=AgreementOut)
def project_agreement(project_id: IdPath, ctx: Ctx, _access: AnnotationReader) -> AgreementOut:
    """Fleiss' κ, Krippendorff's α, per-label κ and Cohen's κ per annotator pair."""
    return agreement.project_agreement(ctx.db, project_id)


@router.get("/projects/{project_id}/consensus", response_model=ConsensusOut)
def project_consensus(
    project_id: IdPath, ctx: Ctx, _access: AnnotationReader, method: Method = None
) -> ConsensusOut:
    """One label per answered item with its confidence, and each annotator's estimated skill."""
    return consensus.consensus(ctx.db, project_id, method=method)


@router.put("/projects/{project_id}/consensus/method", response_model=ConsensusMethod)
def set_consensus_method(
    project_id: IdPath, body: ConsensusMethod, ctx: Ctx, access: ProjectEditor
) -> ConsensusMethod:
    """Choose how the project's answers become consensus labels (``auto`` picks by data size)."""
    return ConsensusMethod(method=consensus.set_method(ctx.db, access.user.id, project_id, body.method))


@router.get("/projects/{project_id}/consensus/export", response_class=StreamingResponse)
def export_consensus(
    project_id: IdPath, ctx: Ctx, _access: AnnotationReader, method: Method = None
) -> StreamingResponse:
    """The consensus labels as JSON lines."""
    body = list(consensus.iter_consensus_jsonl(ctx.db, project_id, method=method))
    headers = {"Content-Disposition": f'attachment; filename="project-{project_id}-consensus.jsonl"'}
    return StreamingResponse(iter(body), media_type="application/x-ndjson", headers=headers)


@router.get("/projects/{project_id}/anchoring", response_model=AnchoringOut)
def project_anchoring(project_id: IdPath, ctx: Ctx, _access: AnnotationReader) -> AnchoringOut:
    """How often final answers equal the suggestion shown, pre-selected or not."""
    return review.anchoring(ctx.db, project_id)
