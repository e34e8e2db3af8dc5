"""The page routes: log in, projects, a project, the labeling app.

Each route parses its input, checks the session, calls one service and renders
one typed context object (:mod:`hitloop.web.contexts`). Errors become an HTML
page with the status the JSON API would give (:func:`hitloop.api.errors.status_for`);
a page that needs a login redirects to the login form.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Form, Request
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from starlette.responses import RedirectResponse, Response

from hitloop.api.context import AppContext
from hitloop.api.deps import CACHE_KEY, SESSION_COOKIE, Ctx, IdPath, client_address, start_session
from hitloop.api.errors import status_for
from hitloop.errors import HitloopError, InputError
from hitloop.schemas import ProjectOut
from hitloop.services import auth, policy, projects, speech
from hitloop.services.policy import Action
from hitloop.types import TaskType
from hitloop.web.contexts import (
    ErrorPage,
    LabelPage,
    LoginPage,
    NewProjectPage,
    ProjectForm,
    ProjectPage,
    ProjectsPage,
    ProjectSummary,
)
from hitloop.web.forms import describe, parse_project_form
from hitloop.web.images import images_panel
from hitloop.web.rendering import STATIC_DIR, CachedStaticFiles, PageRenderer, renderer_of, static_versions
from hitloop.web.review_pages import install_review_pages, quality_panel
from hitloop.web.session import (
    LoginRequiredError,
    check_csrf,
    check_presession,
    login_url,
    page_user,
    presession_token,
    require_user,
    safe_next,
    set_presession_cookie,
)
from hitloop.web.team import install_team_forms, team_panel

__all__ = ["install_web"]

MAX_FIELD = 20_000  # characters of any one posted form field


class PageRoute(APIRoute):
    """Routes whose errors render as pages instead of JSON."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except LoginRequiredError as exc:
                return RedirectResponse(login_url(exc.next_url), status_code=303)
            except HitloopError as exc:
                return _error_page(request, status_for(exc), exc.message)
            except RequestValidationError as exc:
                first = exc.errors()[0] if exc.errors() else {}
                loc = [str(p) for p in first.get("loc", ())]
                if loc[:1] == ["path"]:
                    return _error_page(request, 404, "there is no such page")
                field = ".".join(loc[1:]) or "request"
                return _error_page(request, 422, f"{field}: {first.get('msg', 'invalid input')}")

        return route


def _error_page(request: Request, status: int, message: str) -> Response:
    user = page_user(request, request.app.state.ctx)
    title = "Not found" if status == 404 else "Something went wrong"
    page = ErrorPage(title=title, user=user, status=status, message=message)
    return renderer_of(request).render(request, "error.html", page, status_code=status)


router = APIRouter(route_class=PageRoute, include_in_schema=False)

FormText = Annotated[str, Form(max_length=MAX_FIELD)]


def _login_page(request: Request, ctx: AppContext, page: LoginPage, status: int = 200) -> Response:
    response = renderer_of(request).render(request, "login.html", page, status_code=status)
    set_presession_cookie(request, response, ctx, page.form_token)
    return response


@router.get("/login")
def login_form(request: Request, ctx: Ctx, next: str = "/") -> Response:
    if page_user(request, ctx) is not None:
        return RedirectResponse(safe_next(next), status_code=303)
    page = LoginPage(next_url=safe_next(next), form_token=presession_token(request))
    return _login_page(request, ctx, page)


@router.post("/login")
def login_submit(
    request: Request,
    ctx: Ctx,
    csrf_token: FormText = "",
    username: FormText = "",
    password: FormText = "",
    next: FormText = "/",
) -> Response:
    # Login CSRF: another site must not log this browser in to an account of its choosing.
    check_presession(request, csrf_token)
    target = safe_next(next)
    try:
        user = auth.login(ctx.db, username.strip(), password, address=client_address(request))
    except HitloopError as exc:
        page = LoginPage(username=username, next_url=target, error=exc.message, form_token=csrf_token)
        return _login_page(request, ctx, page, status_for(exc))
    response = RedirectResponse(target, status_code=303)
    start_session(request, response, ctx, user.id)
    return response


@router.post("/logout")
def logout(request: Request, ctx: Ctx, csrf_token: FormText = "") -> Response:
    user = require_user(request, ctx)
    check_csrf(user, csrf_token)
    auth.end_session(ctx.db, request.cookies[SESSION_COOKIE])
    ctx.db.memo.pop(CACHE_KEY, None)  # the API's auth cache must forget the session now
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/")
def projects_page(request: Request, ctx: Ctx) -> Response:
    user = require_user(request, ctx)
    mine = policy.visible_project_ids(ctx.db, user)
    gold = policy.projects_allowing(ctx.db, user, Action.MANAGE_GOLD)
    everyone = policy.projects_allowing(ctx.db, user, Action.READ_ANNOTATIONS)
    listed = projects.list_projects(
        ctx.db, only=mine, gold_seen_in=gold, answers_seen_in=everyone, viewer_id=user.id
    )
    summaries = [
        ProjectSummary.of(p, own_answers=everyone is not None and p.id not in everyone) for p in listed
    ]
    return renderer_of(request).render(request, "projects.html", ProjectsPage(user=user, projects=summaries))


@router.get("/projects/new")
def new_project_form(request: Request, ctx: Ctx) -> Response:
    user = require_user(request, ctx)
    return renderer_of(request).render(request, "project_new.html", NewProjectPage(user=user))


@router.post("/projects/new")
def new_project_submit(
    request: Request,
    ctx: Ctx,
    csrf_token: FormText = "",
    name: FormText = "",
    task: FormText = "classify",
    modality: FormText = "text",
    labels: FormText = "",
    instructions: FormText = "",
) -> Response:
    user = require_user(request, ctx)
    check_csrf(user, csrf_token)
    form = ProjectForm(name=name, task=task, modality=modality, labels=labels, instructions=instructions)
    try:
        created = projects.create_project(ctx.db, user.id, parse_project_form(form))
    except InputError as exc:
        page = NewProjectPage(user=user, form=form, error=describe(exc))
        return renderer_of(request).render(request, "project_new.html", page, status_code=422)
    return RedirectResponse(f"/projects/{created.id}", status_code=303)


def _project_for(ctx: AppContext, access: policy.ProjectAccess) -> ProjectOut:
    """The project with its stats as ``GET /api/projects/{id}`` gives them to this person."""
    return projects.get_project(
        ctx.db,
        access.project_id,
        with_stats=True,
        sees_gold=access.can(Action.MANAGE_GOLD),
        answers_of=policy.answers_of(access),
    )


@router.get("/projects/{project_id}")
def project_page(request: Request, ctx: Ctx, project_id: IdPath) -> Response:
    user = require_user(request, ctx)
    access = policy.project_access(ctx.db, user, project_id, Action.READ_PROJECT)
    project = _project_for(ctx, access)
    page = ProjectPage(
        team=team_panel(ctx, access),
        images=images_panel(ctx, access, project),
        quality=quality_panel(ctx, access, project),
        speech=speech.transcript_stats(ctx.db, project_id) if project.task is TaskType.TRANSCRIBE else None,
        title=project.name,
        user=user,
        json_url=f"/api/projects/{project_id}",
        summary=ProjectSummary.of(project, own_answers=policy.answers_of(access) is not None),
        max_upload_bytes=ctx.settings.max_upload_bytes,
    )
    return renderer_of(request).render(request, "project.html", page)


@router.get("/projects/{project_id}/label")
def label_page(request: Request, ctx: Ctx, project_id: IdPath) -> Response:
    user = require_user(request, ctx)
    access = policy.project_access(ctx.db, user, project_id, Action.ANNOTATE)
    project = _project_for(ctx, access)
    page = LabelPage(
        title=f"Label · {project.name}",
        user=user,
        json_url=f"/api/projects/{project_id}",
        summary=ProjectSummary.of(project, own_answers=policy.answers_of(access) is not None),
    )
    return renderer_of(request).render(request, "label.html", page)


# The team panel's forms (members, team settings) on the project page.
install_team_forms(router)
# The review and audit pages, and the review form.
install_review_pages(router)


def install_web(app: FastAPI) -> None:
    """Mount ``/static`` and the pages on ``app``."""
    versions = static_versions(STATIC_DIR)
    app.state.pages = PageRenderer(versions)
    app.mount("/static", CachedStaticFiles(directory=STATIC_DIR, versions=versions), name="static")
    app.include_router(router)
