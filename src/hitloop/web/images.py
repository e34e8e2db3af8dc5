"""The project page's images panel: recent thumbnails, and for boxes projects the box quality."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hitloop.api.context import AppContext
from hitloop.schemas import ProjectOut
from hitloop.services import boxes
from hitloop.services.policy import Action, ProjectAccess
from hitloop.types import Modality, TaskType

__all__ = ["ImagesPanel", "images_panel"]


@dataclass(frozen=True, kw_only=True)
class ImagesPanel:
    project_id: int
    thumbnails: list[int]  # item ids, newest first
    quality: dict[str, Any] | None  # boxes.box_quality, for boxes projects and readers of answers

    @property
    def coco_url(self) -> str:
        return f"/api/projects/{self.project_id}/coco"


def images_panel(ctx: AppContext, access: ProjectAccess, project: ProjectOut) -> ImagesPanel | None:
    if project.modality is not Modality.IMAGE:
        return None
    thumbnails = boxes.recent_images(ctx.db, project.id) if access.can(Action.READ_ITEMS) else []
    quality = None
    if project.task is TaskType.BOXES and access.can(Action.READ_ANNOTATIONS):
        quality = boxes.box_quality(ctx.db, project.id)
    return ImagesPanel(project_id=project.id, thumbnails=thumbnails, quality=quality)
