from __future__ import annotations

import json

import numpy as np
import pytest

from hitloop.ml.learners import LogisticLearner
from hitloop.ml.simulate import SimulationResult, simulate
from hitloop.ml.strategies import make_strategy


def test_uncertainty_beats_random_on_digits(digits: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    _, X, y = digits
    runs = {
        name: simulate(
            X,
            y,
            learner=LogisticLearner(calibrate=False),
            strategy=make_strategy(name),
            seed_labels=10,
            batch_size=10,
            budget=100,
            repeats=3,
            random_state=0,
        )
        for name in ("random", "margin")
    }
    # Same seeds and splits: identical first point, then margin learns faster.
    np.testing.assert_array_equal(runs["random"].accuracy[:, 0], runs["margin"].accuracy[:, 0])
    assert runs["margin"].mean[1:].mean() > runs["random"].mean[1:].mean() + 0.02
    assert runs["margin"].mean[-1] > runs["random"].mean[-1]


def test_simulation_is_deterministic_and_shaped(two_classes: object) -> None:
    X, y = two_classes.X, two_classes.y  # type: ignore[attr-defined]
    kwargs = dict(
        learner=LogisticLearner(calibrate=False),
        strategy=make_strategy("diverse-margin"),
        seed_labels=4,
        batch_size=5,
        budget=30,
        repeats=2,
        seed_selection="strategy",
        random_state=3,
    )
    a, b = simulate(X, y, **kwargs), simulate(X, y, **kwargs)
    np.testing.assert_array_equal(a.accuracy, b.accuracy)
    assert a.labels.tolist() == [4, 9, 14, 19, 24, 29, 30]
    assert a.accuracy.shape == (2, 7) and a.reference_accuracy.shape == (2,)
    summary = json.loads(json.dumps(a.to_dict()))
    assert summary["labels"] == a.labels.tolist()
    assert len(summary["accuracy_mean"]) == 7 and summary["target"] == 0.95


def test_a_factory_and_string_labels_work(two_classes: object) -> None:
    X, y = two_classes.X, two_classes.y  # type: ignore[attr-defined]
    names = np.where(y == 0, "ham", "spam")
    result = simulate(
        X,
        names,
        learner=lambda: LogisticLearner(calibrate=False),
        strategy=make_strategy("badge"),
        seed_labels=2,
        batch_size=4,
        budget=14,
        repeats=1,
    )
    assert result.accuracy.shape == (1, 4)
    assert result.accuracy.min() >= 0.0 and result.accuracy.max() <= 1.0


def test_labels_to_target_reads_the_mean_curve() -> None:
    result = SimulationResult(
        labels=np.array([10, 20, 30]),
        accuracy=np.array([[0.5, 0.86, 0.95], [0.5, 0.90, 0.95]]),
        reference_accuracy=np.array([0.9, 1.0]),
        seconds=0.0,
    )
    assert result.labels_to_target(0.95) == 30  # bar 0.9025; the mean at 20 is 0.88
    assert result.labels_to_target(0.85) == 20
    assert result.labels_to_target(0.95, reference=0.8) == 20
    assert result.labels_to_target(1.05) is None
    assert result.labels_to_target_per_repeat(0.95) == [20, 30]


def test_bad_arguments_are_named(two_classes: object) -> None:
    X, y = two_classes.X, two_classes.y  # type: ignore[attr-defined]
    common = dict(learner=LogisticLearner(), strategy=make_strategy("random"))
    with pytest.raises(ValueError, match="seed_selection"):
        simulate(X, y, seed_selection="oracle", **common)
    with pytest.raises(ValueError, match="exceed the budget"):
        simulate(X, y, seed_labels=50, budget=20, **common)
    with pytest.raises(ValueError, match="test_size"):
        simulate(X, y, test_size=1.5, **common)
    with pytest.raises(ValueError, match="rows but y has"):
        simulate(X, y[:-1], **common)
