"""A project's team: members and their roles, and the team settings (overlap, gold, visibility)."""

from __future__ import annotations

from fastapi import APIRouter, Response

from hitloop.api.deps import Ctx, IdPath, MemberManager, MemberReader, ProjectEditor
from hitloop.api.errors import ERROR_RESPONSES
from hitloop.schemas import (
    InviteCreate,
    InviteOut,
    MemberIn,
    MemberOut,
    MemberUpdate,
    TeamSettings,
    TeamSettingsUpdate,
)
from hitloop.services import invites, members, team

router = APIRouter(prefix="/api/projects", tags=["members"], responses=ERROR_RESPONSES)


@router.get("/{project_id}/members", response_model=list[MemberOut])
def list_members(project_id: IdPath, ctx: Ctx, _access: MemberReader) -> list[MemberOut]:
    return members.list_members(ctx.db, project_id)


@router.post("/{project_id}/members", response_model=MemberOut, status_code=201)
def add_member(project_id: IdPath, body: MemberIn, ctx: Ctx, access: MemberManager) -> MemberOut:
    """Add an existing user with a role (default annotator); only owners add owners."""
    return members.add_member(ctx.db, access, project_id, body.username, body.role)


@router.patch("/{project_id}/members/{user_id}", response_model=MemberOut)
def update_member(
    project_id: IdPath, user_id: IdPath, body: MemberUpdate, ctx: Ctx, access: MemberManager
) -> MemberOut:
    """Change a member's role, or pause or unpause them."""
    return members.update_member(ctx.db, access, project_id, user_id, role=body.role, paused=body.paused)


@router.delete("/{project_id}/members/{user_id}", status_code=204)
def remove_member(project_id: IdPath, user_id: IdPath, ctx: Ctx, access: MemberManager) -> Response:
    members.remove_member(ctx.db, access, project_id, user_id)
    return Response(status_code=204)


@router.get("/{project_id}/invites", response_model=list[InviteOut])
def list_invites(project_id: IdPath, ctx: Ctx, _access: MemberManager) -> list[InviteOut]:
    """Invites not yet accepted, revoked or expired (without their secrets)."""
    return invites.list_invites(ctx.db, project_id)


@router.post("/{project_id}/invites", response_model=InviteOut, status_code=201)
def create_invite(project_id: IdPath, body: InviteCreate, ctx: Ctx, access: MemberManager) -> InviteOut:
    """A one-time invite link with a role; ``token`` and ``url`` are returned here only, once."""
    return invites.create_invite(ctx.db, access, project_id, body.role, days=body.days)


@router.delete("/{project_id}/invites/{invite_id}", status_code=204)
def revoke_invite(project_id: IdPath, invite_id: IdPath, ctx: Ctx, access: MemberManager) -> Response:
    invites.revoke_invite(ctx.db, access, project_id, invite_id)
    return Response(status_code=204)


@router.get("/{project_id}/team", response_model=TeamSettings)
def get_team_settings(project_id: IdPath, ctx: Ctx, _access: ProjectEditor) -> TeamSettings:
    return team.get_team_settings(ctx.db, project_id)


@router.patch("/{project_id}/team", response_model=TeamSettings)
def update_team_settings(
    project_id: IdPath, body: TeamSettingsUpdate, ctx: Ctx, access: ProjectEditor
) -> TeamSettings:
    """Change overlap, adaptive overlap, gold rate and thresholds, or who sees what.

    A new overlap returns every item someone holds to the queue.
    """
    return team.update_team_settings(ctx.db, access.user.id, project_id, body)
