"""The project page's team panel (members, invites, gold accuracy, team settings) and its forms.

Each form posts to a page route here, which checks the CSRF token, lets the
policy decide (hitloop.services.policy), calls one service and goes back to
the project page; an error re-renders nothing and shows the error page.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form, Request
from pydantic import ValidationError
from starlette.responses import RedirectResponse, Response

from hitloop.api.context import AppContext
from hitloop.api.deps import Ctx, IdPath
from hitloop.errors import InputError
from hitloop.schemas import GoldAccuracy, InviteOut, MemberOut, TeamSettings, TeamSettingsUpdate
from hitloop.services import gold, invites, members, team
from hitloop.services.policy import Action, ProjectAccess
from hitloop.types import Role
from hitloop.web.forms import parse_role
from hitloop.web.invites import install_invite_pages
from hitloop.web.session import form_access

__all__ = ["TeamPanel", "install_team_forms", "team_panel"]

FormText = Annotated[str, Form(max_length=200)]
ROLE_NAMES = tuple(r.value for r in Role)


@dataclass(frozen=True)
class TeamPanel:
    """What the project page shows of the team; parts the viewer may not see are None."""

    role: str  # the viewer's role ("admin" for an administrator who is not a member)
    can_annotate: bool
    members: list[MemberOut] | None
    accuracy: list[GoldAccuracy] | None
    settings: TeamSettings | None
    can_add_items: bool = False
    can_export: bool = (
        False  # everyone's answers: annotators read only their own, unless the project says all
    )
    can_train: bool = False
    roles: tuple[str, ...] = ROLE_NAMES
    invites: list[InviteOut] | None = None  # pending invites, for those who manage members

    def accuracy_of(self, user_id: int) -> GoldAccuracy | None:
        return next((a for a in self.accuracy or [] if a.user_id == user_id), None)


def team_panel(ctx: AppContext, access: ProjectAccess) -> TeamPanel:
    pid = access.project_id
    manage = access.can(Action.MANAGE_MEMBERS)
    return TeamPanel(
        role=access.role.value if access.role else "admin",
        can_annotate=access.can(Action.ANNOTATE),
        can_add_items=access.can(Action.ADD_ITEMS),
        can_export=access.can(Action.READ_ANNOTATIONS),
        can_train=access.can(Action.UPDATE_PROJECT),
        members=members.list_members(ctx.db, pid) if access.can(Action.READ_MEMBERS) else None,
        accuracy=gold.accuracy(ctx.db, pid) if access.can(Action.MANAGE_GOLD) else None,
        settings=team.get_team_settings(ctx.db, pid) if manage else None,
        invites=invites.list_invites(ctx.db, pid) if manage else None,
    )


def _back(project_id: int) -> Response:
    return RedirectResponse(f"/projects/{project_id}#team", status_code=303)


def add_member_form(
    request: Request,
    ctx: Ctx,
    project_id: IdPath,
    csrf_token: FormText = "",
    username: FormText = "",
    role: FormText = "annotator",
) -> Response:
    access = form_access(request, ctx, project_id, csrf_token, Action.MANAGE_MEMBERS)
    members.add_member(ctx.db, access, project_id, username.strip(), parse_role(role))
    return _back(project_id)


def update_member_form(
    request: Request,
    ctx: Ctx,
    project_id: IdPath,
    user_id: IdPath,
    csrf_token: FormText = "",
    role: FormText = "",
    paused: FormText = "",
    remove: FormText = "",
) -> Response:
    access = form_access(request, ctx, project_id, csrf_token, Action.MANAGE_MEMBERS)
    if remove:
        members.remove_member(ctx.db, access, project_id, user_id)
    else:
        members.update_member(
            ctx.db,
            access,
            project_id,
            user_id,
            role=parse_role(role) if role else None,
            paused={"yes": True, "no": False}.get(paused),
        )
    return _back(project_id)


def team_settings_form(
    request: Request,
    ctx: Ctx,
    project_id: IdPath,
    csrf_token: FormText = "",
    overlap: FormText = "",
    overlap_max: FormText = "",
    gold_rate: FormText = "",
    gold_pause_below: FormText = "",
    annotator_visibility: FormText = "",
) -> Response:
    access = form_access(request, ctx, project_id, csrf_token, Action.UPDATE_PROJECT)
    raw = {
        "overlap": overlap,
        "overlap_max": overlap_max,
        "gold_rate": gold_rate,
        "gold_pause_below": gold_pause_below,
        "annotator_visibility": annotator_visibility,
    }
    given = {k: v.strip() for k, v in raw.items() if v.strip()}
    try:
        change = TeamSettingsUpdate.model_validate_json(_json(given))
    except ValidationError as exc:
        first = exc.errors()[0]
        field = ".".join(str(p) for p in first.get("loc", ())) or "team"
        raise InputError(f"{field}: {first.get('msg', 'invalid value')}", field=field) from None
    team.update_team_settings(ctx.db, access.user.id, project_id, change)
    return _back(project_id)


def _json(given: dict[str, str]) -> str:
    out: dict[str, object] = {}
    for key, value in given.items():
        if key == "annotator_visibility":
            out[key] = value
            continue
        try:
            out[key] = int(value) if key.startswith("overlap") else float(value)
        except ValueError:
            raise InputError(f"{key} must be a number, not {value!r}", field=key) from None
    return json.dumps(out)


def install_team_forms(router: APIRouter) -> None:
    """Add the team forms' routes to the pages' router (whose errors render as pages)."""
    router.post("/projects/{project_id}/members")(add_member_form)
    router.post("/projects/{project_id}/members/{user_id}")(update_member_form)
    router.post("/projects/{project_id}/team")(team_settings_form)
    install_invite_pages(router)
