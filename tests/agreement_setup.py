"""Projects whose items several people answer, for the agreement and consensus tests."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
from sqlalchemy import update

from hitloop.db.tables import Project
from hitloop.schemas import AgreementOut, AnnotationIn, ItemIn, ProjectCreate
from hitloop.services import agreement, annotations, auth, items, projects


def shared_project(
    ctx: Any,
    labels: list[str],
    n_items: int,
    *,
    task: str = "classify",
    overlap: int = 2,
    owner: int | None = None,
) -> tuple[int, list[int]]:
    """A project of ``n_items`` texts that ``overlap`` people each answer (owner "owner" unless given)."""
    if owner is None:
        owner = auth.create_user(ctx.db, "owner", "owner-password").id
    project = projects.create_project(ctx.db, owner, ProjectCreate(name="agree", task=task, labels=labels))
    with ctx.db.write() as s:
        s.execute(
            update(Project).where(Project.id == project.id).values(overlap=overlap, overlap_max=overlap)
        )
    texts = [ItemIn(text=f"t{i}") for i in range(n_items)]
    return project.id, items.add_items(ctx.db, project.id, None, texts, ctx.limits)


def submit(ctx: Any, user_id: int, item_id: int, value: dict[str, Any]) -> None:
    annotations.submit(ctx.db, user_id, item_id, AnnotationIn(value=value, client_key=uuid.uuid4().hex))


def count_computations(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The project ids the real agreement computation runs for (it still runs: this only counts).

    The cache's clock stands still meanwhile, so no result is computed once more to settle
    (:class:`~hitloop.services.state_cache.StateCache`) however slowly the test runs.
    """
    monkeypatch.setattr(agreement._CACHE, "clock", lambda: 1_000_000.0)
    calls: list[int] = []
    real = agreement._compute

    def counting(db: Any, project_id: int, task: str | None) -> AgreementOut:
        calls.append(project_id)
        return real(db, project_id, task)

    monkeypatch.setattr(agreement, "_compute", counting)
    return calls
