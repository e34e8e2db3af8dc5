"""The label-error queue cross-validates once per change of the project's answers, not per view."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from hitloop.db.tables import Annotation
from hitloop.schemas import ReviewDecision
from hitloop.services import auth, label_error_queue, review
from tests.services.test_review import flipped_topics


def test_views_reuse_the_ranking_until_an_answer_or_review_changes_it(
    ctx: Any, media: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    team = {name: auth.create_user(ctx.db, name, f"{name}-password").id for name in ("alice", "rita")}
    fits = []
    real = label_error_queue.out_of_fold_proba

    def counted(*args: Any, **kwargs: Any) -> Any:
        fits.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(label_error_queue, "out_of_fold_proba", counted)
    # Time stands still: however long cross-validating takes here, no kept ranking is old
    # enough to be computed once more to settle (test_state_cache_settle.py tests that).
    monkeypatch.setattr(label_error_queue._CACHE, "clock", lambda: 1_000_000.0)
    project_id, flipped = flipped_topics(ctx, team["rita"], team["alice"])

    first = label_error_queue.label_error_queue(ctx.db, media, project_id, limit=1)
    second = label_error_queue.label_error_queue(ctx.db, media, project_id, limit=1, offset=1)
    assert len(fits) == 1  # the second page reads the kept ranking
    assert {first.entries[0].item.id, second.entries[0].item.id} == flipped
    assert first.total == second.total >= 2

    # A reviewer fixes one flipped label: the next view ranks again and drops it.
    wrong = first.entries[0].item.id
    with ctx.db.read() as s:
        annotation_id = s.scalar(select(Annotation.id).where(Annotation.item_id == wrong))
    right = first.entries[0].suggested
    review.review_annotation(
        ctx.db, team["rita"], annotation_id, ReviewDecision(action="fix", value={"label": right})
    )
    after = label_error_queue.label_error_queue(ctx.db, media, project_id, limit=50)
    assert len(fits) == 2
    assert wrong not in {e.item.id for e in after.entries}
    assert (flipped - {wrong}) <= {e.item.id for e in after.entries}
