"""The model loop of a project: train on demand, model versions, loop settings."""

from __future__ import annotations

from fastapi import APIRouter, Response

from hitloop.api.deps import Ctx, IdPath, User
from hitloop.api.errors import ERROR_RESPONSES
from hitloop.schemas import JobOut, LoopSettings, LoopSettingsUpdate, ModelsOut
from hitloop.services import loop_settings, policy, retrain, training
from hitloop.services.policy import Action

router = APIRouter(prefix="/api/projects", tags=["models"], responses=ERROR_RESPONSES)


@router.post(
    "/{project_id}/train",
    response_model=JobOut,
    status_code=202,
    responses={200: {"model": JobOut, "description": "A train job was already queued or running"}},
)
def train(project_id: IdPath, ctx: Ctx, user: User, response: Response) -> JobOut:
    """Retrain now. At most one train job per project is queued or running; that one is returned."""
    policy.project_access(ctx.db, user, project_id, Action.UPDATE_PROJECT)
    job, created = retrain.request_training(ctx.db, project_id, user.id)
    if not created:
        response.status_code = 200
    return job


@router.get("/{project_id}/models", response_model=ModelsOut)
def models(project_id: IdPath, ctx: Ctx, user: User) -> ModelsOut:
    """Model versions, the learning curve and the stopping signal."""
    policy.project_access(ctx.db, user, project_id, Action.READ_PROJECT)
    return training.list_models(ctx.db, project_id)


@router.get("/{project_id}/loop", response_model=LoopSettings)
def get_loop(project_id: IdPath, ctx: Ctx, user: User) -> LoopSettings:
    policy.project_access(ctx.db, user, project_id, Action.READ_PROJECT)
    return loop_settings.get_loop_settings(ctx.db, project_id)


@router.patch("/{project_id}/loop", response_model=LoopSettings)
def update_loop(project_id: IdPath, body: LoopSettingsUpdate, ctx: Ctx, user: User) -> LoopSettings:
    """Choose the strategy, the learner and its parameters, and how often to retrain."""
    policy.project_access(ctx.db, user, project_id, Action.UPDATE_PROJECT)
    return loop_settings.update_loop_settings(ctx.db, project_id, user.id, body)
