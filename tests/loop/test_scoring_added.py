"""Items added under an unchanged model are scored alone; older items' rows are not written again.

After a featurize job appends rows (same generation), the current model
scores only the new items when the strategy is pointwise and this process
remembers the scoring that wrote the queue; they are placed in that order. A
strategy that scores jointly, a forgotten scoring (another process, a
restart) or a queue rescored since fall back to rescoring the whole pool.
"""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select, update

from hitloop.db.tables import Item, Suggestion
from hitloop.schemas import ItemIn, LoopSettingsUpdate
from hitloop.services import items, loop_settings, scoring_added, training
from hitloop.services.items import ItemLimits
from tests.loop.conftest import Loop, make_texts


def _train(loop: Loop, strategy: str | None = None) -> dict[str, Any]:
    if strategy is not None:
        update = LoopSettingsUpdate(strategy=strategy)
        loop_settings.update_loop_settings(loop.db, loop.project, None, update)
    loop.label(loop.ids[:20])
    [job] = loop.run_jobs()
    assert job.kind == "train" and job.state == "done", job.error
    return job.result or {}


def _add(loop: Loop, n: int, seed: int) -> tuple[list[int], dict[str, Any]]:
    texts, _ = make_texts(n, seed=seed)
    new = items.add_items(loop.db, loop.project, loop.user, [ItemIn(text=t) for t in texts], ItemLimits())
    [job] = loop.run_jobs()
    assert job.kind == "featurize" and job.state == "done", job.error
    return new, job.result or {}


def _rows(loop: Loop) -> tuple[dict[int, float], dict[int, tuple[Any, ...]]]:
    """Every item's priority, and every suggestion row (version, label, confidence, created_at)."""
    with loop.db.read() as s:
        priorities = dict(
            s.execute(select(Item.id, Item.priority).where(Item.project_id == loop.project)).all()
        )
        suggestions = {
            r.item_id: (r.model_version_id, r.label, r.confidence, r.created_at)
            for r in s.execute(select(Suggestion).where(Suggestion.project_id == loop.project)).scalars()
        }
    return priorities, suggestions


def _queue(loop: Loop, priorities: dict[int, float], leave_out: set[int]) -> list[int]:
    """Unlabeled items in serving order (priority, then id), without ``leave_out``."""
    labeled = set(training.training_labels(loop.db, loop.project))
    return sorted(set(priorities) - labeled - leave_out, key=lambda i: (-priorities[i], i))


def test_added_items_are_scored_alone_and_placed_in_the_models_order(loop: Loop) -> None:
    trained = _train(loop)  # default strategy: diverse margin (pointwise scores)
    old_priorities, old_suggestions = _rows(loop)

    new, result = _add(loop, 5, seed=31)
    assert result["appended"] == 5 and result["only_added"] is True and result["scored"] == 5
    assert result["batch"] == trained["batch"]
    priorities, suggestions = _rows(loop)
    # The older items' rows were not written: same priorities, same suggestion rows and times.
    assert {i: priorities[i] for i in old_priorities} == old_priorities
    assert {i: suggestions[i] for i in old_suggestions} == old_suggestions
    assert all(suggestions[i][0] == 1 for i in new)
    assert all(1.0 < priorities[i] < 2.0 for i in new)
    with loop.db.read() as s:
        explained = s.scalars(select(Suggestion.explanation).where(Suggestion.item_id.in_(new))).all()
    assert any(e and e.get("words") for e in explained)  # the linear model's top words, as for the pool

    more, result = _add(loop, 3, seed=32)  # placed among the older and the first new items
    assert result["only_added"] is True and result["scored"] == 3
    placed, _ = _rows(loop)
    assert {i: placed[i] for i in old_priorities} == old_priorities

    # Scoring the whole pool again with that model gives every item outside the batches the
    # same place: the one a full rescoring at each addition would have given it.
    scoring_added.forget(loop.project)
    records_result = _rescore(loop)
    assert "only_added" not in records_result and records_result["scored"] == 48
    rescored, _ = _rows(loop)
    batches = set(trained["batch"]) | set(records_result["batch"])
    assert _queue(loop, placed, batches) == _queue(loop, rescored, batches)
    assert set(new + more) - batches


def _rescore(loop: Loop) -> dict[str, Any]:
    from hitloop.jobs import records

    records.create(loop.db, "score", project_id=loop.project)
    [job] = loop.run_jobs()
    assert job.state == "done", job.error
    return job.result or {}


@pytest.mark.parametrize("strategy", ["density-margin", "random"])
def test_a_strategy_that_scores_jointly_rescores_the_pool(loop: Loop, strategy: str) -> None:
    _train(loop, strategy)
    _, old_suggestions = _rows(loop)
    new, result = _add(loop, 4, seed=33)
    assert "only_added" not in result and result["scored"] == 44 and result["appended"] == 4
    _, suggestions = _rows(loop)
    assert all(suggestions[i][0] == 1 for i in new)
    # Every unlabeled item's suggestion was written again.
    assert all(suggestions[i][3] > old_suggestions[i][3] for i in old_suggestions if i not in loop.ids[:20])


def test_without_a_remembered_scoring_the_pool_is_rescored(loop: Loop) -> None:
    """Another worker process scored the pool, or this one restarted: nothing to place items in."""
    _train(loop)
    scoring_added.forget(loop.project)
    _, result = _add(loop, 3, seed=34)
    assert "only_added" not in result and result["scored"] == 43
    _, result = _add(loop, 2, seed=35)  # that full scoring is remembered: the next one is placed
    assert result["only_added"] is True and result["scored"] == 2


def test_a_queue_rescored_elsewhere_since_is_rescored_again(loop: Loop) -> None:
    """The batch's priorities in the database are not the remembered ones: another process wrote them."""
    trained = _train(loop)
    with loop.db.write() as s:
        s.execute(update(Item).where(Item.id == trained["batch"][0]).values(priority=1.5))
    _, result = _add(loop, 3, seed=36)
    assert "only_added" not in result and result["scored"] == 43


def test_an_added_item_labeled_before_its_featurize_job_is_not_scored(loop: Loop) -> None:
    _train(loop)
    texts, truth = make_texts(3, seed=37)
    new = items.add_items(loop.db, loop.project, loop.user, [ItemIn(text=t) for t in texts], ItemLimits())
    loop.truth.update(zip(new, truth, strict=True))
    loop.label(new[:1])
    jobs = loop.run_jobs()
    [featurized] = [j for j in jobs if j.kind == "featurize"]
    assert featurized.state == "done", featurized.error
    result = featurized.result or {}
    assert result["only_added"] is True and result["scored"] == 2
    priorities, suggestions = _rows(loop)
    assert new[0] not in suggestions and priorities[new[0]] == 0.0
    assert all(suggestions[i][0] == 1 and 1.0 < priorities[i] < 2.0 for i in new[1:])
