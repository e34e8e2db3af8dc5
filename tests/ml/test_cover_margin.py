"""Cover-margin: representatives of the clusters no label has reached, then diverse margin."""

from __future__ import annotations

import numpy as np
import pytest

from hitloop.ml.defaults import default_strategy, default_strategy_name
from hitloop.ml.learners import LogisticLearner
from hitloop.ml.strategies import DEFAULT_STRATEGY, CoverMargin, DiverseMargin, Pool
from hitloop.ml.strategies.selection import uncovered_representatives
from hitloop.services.loop_settings import loop_settings_of


def _blobs(n_blobs: int = 6, per_blob: int = 30, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Tight, far-apart blobs on distinct directions (the clustering is cosine)."""
    rng = np.random.default_rng(seed)
    centres = np.eye(n_blobs) * 10.0
    X = np.vstack([c + rng.normal(scale=0.1, size=(per_blob, n_blobs)) for c in centres])
    return X, np.repeat(np.arange(n_blobs), per_blob)


def test_uncovered_representatives_take_one_item_of_each_cluster_without_a_label() -> None:
    X, blob = _blobs()
    labeled = np.array([0, 30, 60])  # one item in each of blobs 0, 1, 2
    batch = uncovered_representatives(X, labeled, 3, np.ones(len(X)), exclude=labeled, rng=0)
    assert sorted(blob[batch].tolist()) == [3, 4, 5]


def test_uncovered_clusters_with_more_weight_come_first() -> None:
    X, blob = _blobs()
    labeled = np.array([0, 30, 60])
    weight = np.where(blob == 4, 1.0, 0.1)
    batch = uncovered_representatives(X, labeled, 3, weight, exclude=labeled, rng=0)
    assert blob[batch[0]] == 4


def test_uncovered_representatives_reject_bad_weights() -> None:
    X, _ = _blobs()
    with pytest.raises(ValueError, match="weight"):
        uncovered_representatives(X, [0], 2, -np.ones(len(X)))
    with pytest.raises(ValueError, match="weight"):
        uncovered_representatives(X, [0], 2, np.ones(3))


def _pool(X: np.ndarray, blob: np.ndarray, labeled: np.ndarray) -> Pool:
    learner = LogisticLearner(classes=list(range(blob.max() + 1)), calibrate=False)
    y = np.full(len(X), -1)
    y[labeled] = blob[labeled]
    return Pool(X, labeled=labeled, y=blob[labeled], learner=learner.fit(X, y))


def test_cover_margin_reaches_the_clusters_no_label_has_reached() -> None:
    # Two classes, each made of three blobs: the first labels sit in one blob per class.
    X, blob = _blobs()
    classes = blob % 2
    labeled = np.array([0, 30])  # blob 0 (class 0) and blob 1 (class 1)
    learner = LogisticLearner(classes=[0, 1], calibrate=False)
    y = np.full(len(X), -1)
    y[labeled] = classes[labeled]
    pool = Pool(X, labeled=labeled, y=classes[labeled], learner=learner.fit(X, y))
    batch = CoverMargin(per_class=5).select(pool, 4, random_state=0)
    assert sorted(blob[batch].tolist()) == [2, 3, 4, 5]


def test_after_per_class_labels_per_class_it_is_diverse_margin() -> None:
    X, blob = _blobs()
    labeled = np.arange(0, len(X), 6)  # 30 labels, 5 per class of 6 classes
    pool = _pool(X, blob, labeled)
    cover = CoverMargin(per_class=5).select(pool, 5, random_state=3)
    plain = DiverseMargin().select(_pool(X, blob, labeled), 5, random_state=3)
    np.testing.assert_array_equal(cover, plain)


def test_per_class_must_not_be_negative() -> None:
    X, blob = _blobs()
    pool = _pool(X, blob, np.array([0, 30]))
    with pytest.raises(ValueError, match="per_class"):
        CoverMargin(per_class=-1).select(pool, 3, random_state=0)


def test_audio_projects_start_with_cover_margin_and_others_with_the_general_default() -> None:
    assert default_strategy_name("audio") == "cover-margin"
    assert isinstance(default_strategy("audio"), CoverMargin)
    assert default_strategy_name("image") == default_strategy_name("text") == DEFAULT_STRATEGY
    assert default_strategy_name() == DEFAULT_STRATEGY
    with pytest.raises(ValueError, match="modality 'video'"):
        default_strategy_name("video")


def test_the_loop_uses_the_modality_default_unless_the_project_chose_one() -> None:
    assert loop_settings_of({}, "audio").strategy == "cover-margin"
    assert loop_settings_of({}, "image").strategy == DEFAULT_STRATEGY
    assert loop_settings_of(None).strategy == DEFAULT_STRATEGY
    assert loop_settings_of({"strategy": "margin"}, "audio").strategy == "margin"
