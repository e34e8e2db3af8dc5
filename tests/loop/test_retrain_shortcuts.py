"""Retraining on busy and large projects: the tail of the scores yields to the next model; fewer folds."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select

from hitloop import plugins
from hitloop.db.tables import Item
from hitloop.jobs import records
from hitloop.ml.learners import LogisticLearner
from hitloop.schemas import LoopSettingsUpdate
from hitloop.services import loop_settings, queue, scoring, training
from tests.loop.conftest import Loop

#: Called (once each) from the next fit: labels that arrive while a train job runs.
ARRIVING: list[Callable[[], None]] = []


class _ArrivingLabels(LogisticLearner):
    def fit(self, X: Any, y: Any, sample_weight: Any = None) -> _ArrivingLabels:
        while ARRIVING:
            ARRIVING.pop()()
        super().fit(X, y, sample_weight)
        return self


class _Plugin:
    @plugins.hookimpl
    def hitloop_learners(self) -> dict[str, object]:
        return {"arriving-labels": _ArrivingLabels}


@pytest.fixture
def arriving(loop: Loop) -> Iterator[None]:
    plugin = _Plugin()
    plugins.register(plugin, name="arriving-labels")
    update = LoopSettingsUpdate(learner="arriving-labels")
    loop_settings.update_loop_settings(loop.db, loop.project, None, update)
    yield
    ARRIVING.clear()
    plugins.plugin_manager().unregister(plugin)


def _priorities(loop: Loop) -> dict[int, float]:
    with loop.db.read() as s:
        return dict(s.execute(select(Item.id, Item.priority).where(Item.project_id == loop.project)).all())


def test_tail_writes_yield_to_the_next_retraining(
    loop: Loop, arriving: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(scoring, "EXPLAIN_HEAD", 10)
    monkeypatch.setattr(scoring, "WRITE_BATCH", 5)
    loop.label(loop.ids[:20])  # queues the first train job (retrain_every = 20)
    ARRIVING.append(lambda: loop.label(loop.ids[20:40]))  # 20 more while it trains
    job = records.claim(loop.db)
    assert job is not None and job.kind == "train"
    loop.runner.run_claimed(job)
    first = records.get(loop.db, job.id)
    result = first.result or {}
    assert first.state == "done", first.error
    # It trained on the first 20; of its 40 unlabeled rows it wrote the head, then stopped.
    assert result["n_train"] == 20 and result["scored"] == 40 and result["written"] == 10
    version = result["model_version_id"]
    fresh = {i for i, p in _priorities(loop).items() if p > version}
    assert len(fresh) == 10
    # The next model was queued at once; and the queue serves the fresh head before anything older.
    assert "next_job_id" in result
    served = queue.next_items(loop.db, loop.project, loop.user, count=3)
    assert {i.id for i in served} <= fresh

    # With no labels arriving, the next train job writes every row, above the older ones.
    second = next(j for j in loop.run_jobs() if j.kind == "train")
    after = second.result or {}
    assert second.state == "done", second.error
    assert after["n_train"] == 40 and after["written"] == after["scored"] == 20
    unlabeled = set(loop.ids[40:])
    priorities = _priorities(loop)
    assert all(priorities[i] > after["model_version_id"] for i in unlabeled)


def test_cross_validation_takes_three_folds_from_200_labels() -> None:
    rng = np.random.default_rng(0)
    for n, folds in ((199, 5), (200, 3)):
        y = np.array(["pos", "neg"] * (n // 2) + ["pos"] * (n % 2), dtype=object)
        X = rng.normal(size=(n, 5)) + np.where(y == "pos", 1.0, -1.0)[:, None]
        metrics, oof = training._cross_validate(LogisticLearner(classes=["neg", "pos"]), X, y)
        assert metrics["cv_folds"] == folds and metrics["accuracy"] > 0.9
        assert oof.shape == (n, 2)  # every labeled row held out once: the temperature's data
