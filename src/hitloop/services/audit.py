"""The append-only audit log."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy.orm import Session

from hitloop.db.tables import Event

__all__ = ["record_event"]


def record_event(
    session: Session,
    user_id: int | None,
    project_id: int | None,
    action: str,
    object_type: str,
    object_id: int | str | None,
    detail: dict[str, Any],
) -> None:
    """Add an event to the caller's transaction (it commits with the change it describes)."""
    session.add(
        Event(
            user_id=user_id,
            project_id=project_id,
            action=action,
            object_type=object_type,
            object_id=None if object_id is None else str(object_id),
            detail=detail,
            created_at=time.time(),
        )
    )
