"""Image projects in the loop (features from media, nearest labeled examples); the stopping signal."""

from __future__ import annotations

import pytest

from hitloop.db.engine import Database
from hitloop.schemas import LearningCurvePoint
from hitloop.services.training import stopping_signal
from hitloop.settings import Settings
from tests.loop.conftest import label_train_and_suggest, make_digit_project


def test_an_image_project_trains_and_explains_by_nearest_labeled_items(
    db: Database, settings: Settings
) -> None:
    d = make_digit_project(db, settings, 40)
    project, user, ids, truth = d.project, d.user, d.ids, d.truth
    rows = label_train_and_suggest(db, settings, project, user, truth, ids[:16])
    assert len(rows) == 24
    assert sum(r.label == truth[r.item_id] for r in rows) >= 22
    for r in rows:
        neighbors = (r.explanation or {})["neighbors"]
        assert len(neighbors) == 3 and set(neighbors) <= set(ids[:16])


def _curve(*points: tuple[int, float | None, float | None]) -> list[LearningCurvePoint]:
    return [
        LearningCurvePoint(model_version_id=i + 1, n_train=n, accuracy=a, changed=c)
        for i, (n, a, c) in enumerate(points)
    ]


@pytest.mark.parametrize(
    ("curve", "advice"),
    [
        ([], "no model yet"),
        ([(20, 0.7, None)], "keep labeling: too few versions to judge"),
        ([(20, 0.7, None), (40, 0.8, 0.2)], "the model still changes with new labels: keep labeling"),
        (
            [(20, 0.8, None), (40, 0.85, 0.03)],
            "the model changes little with new labels: close to its plateau",
        ),
        ([(20, 0.9, None), (40, 0.905, 0.005)], "the model has stopped changing"),
        (
            [(3, None, None), (3, None, 0.0)],
            "keep labeling: too few labels per class to estimate accuracy",
        ),
        (
            [(4, None, None), (30, 0.9, 0.0)],
            "the model changes little with new labels: close to its plateau",
        ),
    ],
    ids=["none", "one-version", "changing", "plateau", "stopped", "no-accuracy", "no-gain"],
)
def test_stopping_signal_reads_accuracy_and_change(
    curve: list[tuple[int, float | None, float | None]], advice: str
) -> None:
    signal = stopping_signal(_curve(*curve))
    assert signal["advice"].startswith(advice)
    if len(curve) > 1:
        last, previous = curve[-1][1], curve[-2][1]
        if last is None or previous is None:
            assert signal["gain"] is None
        else:
            assert signal["gain"] == pytest.approx(last - previous, abs=1e-4)
