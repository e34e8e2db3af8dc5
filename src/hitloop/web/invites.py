"""Invite links in the browser: the team panel's create and revoke forms, and the ``/invite/<secret>`` page.

Creating an invite answers with a page that shows the link once (it is not
stored). The invite page lets a newcomer choose a username and password, or
someone logged in accept with their account; either way they land on the
project. A newcomer is logged in with a brand-new session, as at login.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated

from fastapi import APIRouter, Form, Path, Request
from starlette.responses import RedirectResponse, Response

from hitloop.api.deps import Ctx, IdPath, client_address, start_session
from hitloop.api.errors import status_for
from hitloop.errors import HitloopError, InputError
from hitloop.services import invites
from hitloop.services.policy import Action
from hitloop.web.contexts import Page
from hitloop.web.forms import parse_role
from hitloop.web.rendering import renderer_of
from hitloop.web.session import (
    check_csrf,
    check_presession,
    form_access,
    page_user,
    presession_token,
    set_presession_cookie,
)

__all__ = ["InviteCreatedPage", "InvitePage", "install_invite_pages"]

FormText = Annotated[str, Form(max_length=1000)]
TokenPath = Annotated[str, Path(min_length=1, max_length=200)]


@dataclass(frozen=True, kw_only=True)
class InvitePage(Page):
    project_name: str
    role: str
    expires: str
    action_url: str
    username: str = ""
    error: str | None = None
    form_token: str = ""  # the sign-up form's pre-session CSRF token (no user yet)


@dataclass(frozen=True, kw_only=True)
class InviteCreatedPage(Page):
    project_id: int
    link: str
    role: str
    expires: str


def _when(at: float | datetime) -> str:
    moment = at if isinstance(at, datetime) else datetime.fromtimestamp(at, UTC)
    return f"{moment:%Y-%m-%d %H:%M} UTC"


def create_invite_form(
    request: Request,
    ctx: Ctx,
    project_id: IdPath,
    csrf_token: FormText = "",
    role: FormText = "annotator",
    days: FormText = "7",
) -> Response:
    access = form_access(request, ctx, project_id, csrf_token, Action.MANAGE_MEMBERS)
    try:
        lasting = float(days.strip() or invites.DEFAULT_DAYS)
    except ValueError:
        raise InputError(f"days must be a number, not {days!r}", field="days") from None
    out = invites.create_invite(ctx.db, access, project_id, parse_role(role), days=lasting)
    page = InviteCreatedPage(
        title="Invite link",
        user=access.user,
        project_id=project_id,
        link=str(request.base_url).rstrip("/") + (out.url or ""),
        role=out.role.value,
        expires=_when(out.expires_at),
    )
    return renderer_of(request).render(request, "invite_created.html", page, status_code=201)


def revoke_invite_form(
    request: Request, ctx: Ctx, project_id: IdPath, invite_id: IdPath, csrf_token: FormText = ""
) -> Response:
    access = form_access(request, ctx, project_id, csrf_token, Action.MANAGE_MEMBERS)
    invites.revoke_invite(ctx.db, access, project_id, invite_id)
    return RedirectResponse(f"/projects/{project_id}#team", status_code=303)


def _invite_page(
    request: Request,
    token: str,
    view: invites.InviteView,
    username: str = "",
    error: str | None = None,
    status: int = 200,
) -> Response:
    """The invite page; without a session, its sign-up form carries a pre-session token."""
    ctx = request.app.state.ctx
    user = page_user(request, ctx)
    form_token = "" if user is not None else presession_token(request)
    page = InvitePage(
        title=f"Join {view.project_name}",
        user=user,
        project_name=view.project_name,
        role=view.role.value,
        expires=_when(view.expires_at),
        action_url=f"/invite/{token}",
        username=username,
        error=error,
        form_token=form_token,
    )
    response = renderer_of(request).render(request, "invite.html", page, status_code=status)
    if form_token:
        set_presession_cookie(request, response, ctx, form_token)
    return response


def invite_page(request: Request, ctx: Ctx, token: TokenPath) -> Response:
    view = invites.open_invite(ctx.db, token, address=client_address(request))
    return _invite_page(request, token, view)


def accept_invite_form(
    request: Request,
    ctx: Ctx,
    token: TokenPath,
    csrf_token: FormText = "",
    username: FormText = "",
    password: FormText = "",
) -> Response:
    user = page_user(request, ctx)
    address = client_address(request)
    if user is not None:
        check_csrf(user, csrf_token)
        done = invites.accept_invite(ctx.db, token, user=user, address=address)
        return RedirectResponse(f"/projects/{done.project_id}", status_code=303)
    check_presession(request, csrf_token)  # a hostile site must not sign the browser up to its account
    try:
        done = invites.accept_invite(ctx.db, token, username=username, password=password, address=address)
    except HitloopError as exc:
        if exc.field not in ("username", "password"):
            raise
        # A taken username or a short password: the same form again, with the reason.
        view = invites.open_invite(ctx.db, token, address=address)
        return _invite_page(
            request, token, view, username=username, error=exc.message, status=status_for(exc)
        )
    response = RedirectResponse(f"/projects/{done.project_id}", status_code=303)
    start_session(request, response, ctx, done.user.id)
    return response


def install_invite_pages(router: APIRouter) -> None:
    """Add the invite forms and page to the pages' router (whose errors render as pages)."""
    router.post("/projects/{project_id}/invites")(create_invite_form)
    router.post("/projects/{project_id}/invites/{invite_id}/revoke")(revoke_invite_form)
    router.get("/invite/{token}")(invite_page)
    router.post("/invite/{token}")(accept_invite_form)
