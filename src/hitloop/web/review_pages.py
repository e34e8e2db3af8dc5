"""Review, audit and agreement in the browser: the review page and its forms, the audit page,
and the project page's quality panel (agreement matrix, links to review and audit).

Each page renders one typed context object and names its JSON twin; each form
checks the CSRF token, lets the policy decide, calls one service and goes back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from starlette.responses import RedirectResponse, Response

from hitloop.api.context import AppContext
from hitloop.api.deps import Ctx, IdPath
from hitloop.errors import InputError
from hitloop.schemas import MAX_ID, AgreementOut, AuditPage, ProjectOut, ReviewDecision, ReviewQueue
from hitloop.services import agreement, audit, policy, projects, review
from hitloop.services.policy import Action, ProjectAccess
from hitloop.services.review import QueueName
from hitloop.types import TaskType
from hitloop.web.contexts import Page
from hitloop.web.rendering import renderer_of
from hitloop.web.session import form_access, require_user

__all__ = ["AuditView", "QualityPanel", "ReviewView", "install_review_pages", "quality_panel"]

QUEUE_TITLES: dict[str, str] = {
    "pending": "Not reviewed yet",
    "disagreement": "Answers disagree",
    "label-errors": "Likely label errors",
}
PAGE_SIZE = 20
FormText = Annotated[str, Form(max_length=200)]


def kappa_tone(value: float | None) -> str:
    """A CSS class for a κ value: agreement levels after Landis & Koch (1977)."""
    if value is None:
        return "k-none"
    return "k-high" if value >= 0.8 else "k-mid" if value >= 0.6 else "k-low"


def fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


@dataclass(frozen=True)
class QualityPanel:
    """The project page's agreement matrix and the ways into review and the audit log."""

    project_id: int
    agreement: AgreementOut | None  # None: not classify/multilabel, or the viewer may not see answers
    can_review: bool
    can_audit: bool

    def cell(self, u: int, v: int) -> tuple[str, str]:
        """(text, css class) of the matrix cell for annotators u and v."""
        if self.agreement is None or u == v:
            return ("", "k-self")
        value = self.agreement.matrix[u][v]
        return (fmt(value), kappa_tone(value))

    @staticmethod
    def fmt(value: float | None) -> str:
        return fmt(value)


def quality_panel(ctx: AppContext, access: ProjectAccess, project: ProjectOut) -> QualityPanel | None:
    """What the project page shows of review and agreement, or None when the viewer may see none of it."""
    can_read = access.can(Action.READ_ANNOTATIONS)
    can_review, can_audit = access.can(Action.REVIEW), access.can(Action.READ_AUDIT)
    if not (can_read or can_review or can_audit):
        return None
    shown = can_read and project.task in (TaskType.CLASSIFY, TaskType.MULTILABEL)
    return QualityPanel(
        project_id=project.id,
        agreement=agreement.project_agreement(ctx.db, project.id) if shown else None,
        can_review=can_review,
        can_audit=can_audit,
    )


@dataclass(frozen=True, kw_only=True)
class ReviewView(Page):
    project: ProjectOut
    queue: ReviewQueue
    offset: int
    tabs: list[tuple[str, str, bool]] = field(default_factory=list)  # (title, url, current)

    @property
    def heading(self) -> str:
        return QUEUE_TITLES[self.queue.queue]

    def url(self, offset: int) -> str:
        return review_url(self.project.id, self.queue.queue, offset)

    @property
    def previous_url(self) -> str | None:
        return self.url(max(0, self.offset - PAGE_SIZE)) if self.offset > 0 else None

    @property
    def next_url(self) -> str | None:
        more = self.offset + len(self.queue.entries) < self.queue.total
        return self.url(self.offset + PAGE_SIZE) if more else None

    @property
    def labels(self) -> list[str]:
        return list(self.project.labels)

    @property
    def fixable(self) -> bool:
        return self.project.task == TaskType.CLASSIFY

    @staticmethod
    def show(value: object) -> str:
        """An answer as a reviewer reads it: the label, the labels, or the JSON."""
        if isinstance(value, dict):
            if "label" in value:
                return str(value["label"])
            if "labels" in value and isinstance(value["labels"], list):
                return ", ".join(str(x) for x in value["labels"]) or "(none)"
        return "" if value is None else str(value)


@dataclass(frozen=True, kw_only=True)
class AuditView(Page):
    project: ProjectOut
    log: AuditPage

    @property
    def older_url(self) -> str | None:
        if self.log.next_before is None:
            return None
        return f"/projects/{self.project.id}/audit?before={self.log.next_before}"

    def export_url(self, fmt: str) -> str:
        return f"/api/projects/{self.project.id}/audit/export?format={fmt}"


def review_url(project_id: int, queue: str, offset: int = 0) -> str:
    query = {"queue": queue} | ({"offset": str(offset)} if offset else {})
    return f"/projects/{project_id}/review?{urlencode(query)}"


def _page_access(request: Request, ctx: AppContext, project_id: int, action: Action) -> ProjectAccess:
    return policy.project_access(ctx.db, require_user(request, ctx), project_id, action)


def install_review_pages(router: APIRouter) -> None:
    """Add the review and audit pages and the review form to the pages router."""

    @router.get("/projects/{project_id}/review")
    def review_page(
        request: Request,
        ctx: Ctx,
        project_id: IdPath,
        queue: QueueName = "pending",
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> Response:
        access = _page_access(request, ctx, project_id, Action.REVIEW)
        project = projects.get_project(ctx.db, project_id)
        result = review.review_queue(
            ctx.db, ctx.media, project_id, queue, access.user.id, limit=PAGE_SIZE, offset=offset
        )
        page = ReviewView(
            title=f"Review · {project.name}",
            user=access.user,
            json_url=f"/api/projects/{project_id}/review?queue={queue}&offset={offset}",
            project=project,
            queue=result,
            offset=offset,
            tabs=[
                (title, review_url(project_id, name), name == queue) for name, title in QUEUE_TITLES.items()
            ],
        )
        return renderer_of(request).render(request, "review.html", page)

    @router.post("/projects/{project_id}/review/{annotation_id}")
    def review_form(
        request: Request,
        ctx: Ctx,
        project_id: IdPath,
        annotation_id: IdPath,
        csrf_token: FormText = "",
        action: FormText = "",
        label: FormText = "",
        queue: Annotated[QueueName, Form()] = "pending",
        offset: Annotated[int, Form(ge=0, le=1_000_000)] = 0,
    ) -> Response:
        access = form_access(request, ctx, project_id, csrf_token, Action.REVIEW)
        if review.annotation_project(ctx.db, annotation_id) != project_id:
            raise InputError(
                f"annotation {annotation_id} is not in project {project_id}", field="annotation_id"
            )
        if action not in ("accept", "reject", "fix"):
            raise InputError("action must be accept, reject or fix", field="action")
        value = {"label": label} if action == "fix" else None
        decision = ReviewDecision.model_validate({"action": action, "value": value})
        review.review_annotation(ctx.db, access.user.id, annotation_id, decision)
        return RedirectResponse(review_url(project_id, queue, offset), status_code=303)

    @router.get("/projects/{project_id}/audit")
    def audit_page(
        request: Request,
        ctx: Ctx,
        project_id: IdPath,
        before: Annotated[int | None, Query(ge=1, le=MAX_ID)] = None,
    ) -> Response:
        access = _page_access(request, ctx, project_id, Action.READ_AUDIT)
        project = projects.get_project(ctx.db, project_id)
        page = AuditView(
            title=f"Audit log · {project.name}",
            user=access.user,
            json_url=f"/api/projects/{project_id}/audit" + (f"?before={before}" if before else ""),
            project=project,
            log=audit.list_events(ctx.db, project_id, before=before, limit=50),
        )
        return renderer_of(request).render(request, "audit.html", page)
