"""One check suite over every learner and featurizer: the scikit-learn estimator contract."""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import clone

from hitloop.ml.defaults import default_featurizer, default_learner
from hitloop.ml.featurizers import ImageHog, ImagePixels, StackedFeatures, TextTfidf, WordLlamaEmbedding
from hitloop.ml.learners import UNLABELED, LabelSpreadingLearner, LogisticLearner

LEARNERS: dict[str, Callable[..., Any]] = {
    "logistic": lambda **kw: LogisticLearner(**kw),
    "logistic-uncalibrated": lambda **kw: LogisticLearner(calibrate=False, C=1.0, **kw),
    "label-spreading": lambda **kw: LabelSpreadingLearner(n_neighbors=5, **kw),
    "label-spreading-uncalibrated": lambda **kw: LabelSpreadingLearner(
        calibrate=False, min_confidence=0.5, **kw
    ),
    "default-image": lambda **kw: default_learner("image", **kw),
    "default-text": lambda **kw: default_learner("text", **kw),
}

TEXTS = [
    "good film, loved it",
    "bad film",
    "great acting and story",
    "terrible plot, bad acting",
    "a film I loved",
    "worst story ever",
]
IMAGES = np.random.default_rng(0).integers(0, 256, size=(6, 16, 16)).astype(np.uint8)
FEATURIZERS: dict[str, tuple[Callable[[], Any], Any]] = {
    "text-tfidf": (TextTfidf, TEXTS),
    "text-tfidf-chars": (lambda: TextTfidf(char_ngrams=True, min_df=1), TEXTS),
    "image-pixels": (ImagePixels, IMAGES),
    "image-pixels-resized": (lambda: ImagePixels(size=(8, 8)), [IMAGES[0], IMAGES[1][:12, :10]]),
    "image-hog": (ImageHog, IMAGES),
    "image-hog-only": (lambda: ImageHog(with_pixels=False, cells=2, block=1), IMAGES),
    "stacked": (
        lambda: StackedFeatures([ImagePixels(), ImageHog(with_pixels=False)], weights=[1.0, 0.5]),
        IMAGES,
    ),
    "wordllama": (WordLlamaEmbedding, TEXTS),
    "default-text": (lambda: default_featurizer("text"), TEXTS),
    "default-image": (lambda: default_featurizer("image"), IMAGES),
}


def _rows(y: np.ndarray, per_class: int, classes: range) -> np.ndarray:
    return np.concatenate([np.flatnonzero(y == c)[:per_class] for c in classes])


@pytest.mark.parametrize("name", sorted(LEARNERS))
def test_learner_probabilities_cover_the_full_class_list(name: str, digits: tuple[Any, Any, Any]) -> None:
    _, X, y = digits
    X, y = X[:400], y[:400]
    # Three of the ten classes have no label yet; the project still has ten.
    rows = _rows(y, per_class=5, classes=range(7))
    y_train = np.full(len(y), UNLABELED)
    y_train[rows] = y[rows]
    learner = LEARNERS[name](classes=list(range(10)))
    assert learner.fit(X, y_train) is learner
    P = learner.predict_proba(X)
    assert P.shape == (400, 10)
    np.testing.assert_allclose(P.sum(axis=1), 1.0, atol=1e-9)
    assert (P >= 0).all()
    assert np.all(P[:, 7:] == 0.0)
    assert set(learner.predict(X).tolist()) <= set(range(7))
    assert list(learner.classes_) == list(range(10))
    assert learner.temperature_ > 0


@pytest.mark.parametrize("name", sorted(LEARNERS))
def test_learner_follows_the_estimator_contract(name: str, two_classes: Any) -> None:
    learner = LEARNERS[name](classes=["a", "b"])
    params = learner.get_params()
    assert params["classes"] == ["a", "b"]
    twin = clone(learner)
    assert twin.get_params().keys() == params.keys()
    assert not hasattr(twin, "classes_")
    labels = np.where(two_classes.y == 0, "a", "b").astype(object)
    labels[20:] = None
    fitted = twin.fit(two_classes.X, labels)
    assert fitted is twin
    assert fitted.predict_proba(two_classes.X).shape == (len(labels), 2)
    assert set(fitted.predict(two_classes.X).tolist()) <= {"a", "b"}
    assert not hasattr(clone(fitted), "temperature_")


@pytest.mark.parametrize("name", sorted(LEARNERS))
def test_learner_rejects_bad_input_with_clear_messages(name: str, two_classes: Any) -> None:
    X, y = two_classes.X, two_classes.y.copy()
    with pytest.raises(ValueError, match="at least two classes"):
        LEARNERS[name]().fit(X[:5], np.zeros(5, dtype=int))
    bad = X.copy()
    bad[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        LEARNERS[name]().fit(bad, y)
    with pytest.raises(ValueError, match="labels not in classes: 7"):
        LEARNERS[name](classes=[0, 1]).fit(X, np.where(np.arange(len(y)) == 0, 7, y))
    with pytest.raises(ValueError, match="rows but y has"):
        LEARNERS[name]().fit(X, y[:-1])


def test_supervised_learner_ignores_unlabeled_rows(two_classes: Any) -> None:
    X, y = two_classes.X, two_classes.y
    y_partial = np.where(np.arange(len(y)) < 30, y, UNLABELED)
    a = LogisticLearner().fit(X, y_partial).predict_proba(X)
    b = LogisticLearner().fit(X[:30], y[:30]).predict_proba(X)
    np.testing.assert_allclose(a, b)


def test_learner_accepts_sparse_features(two_classes: Any) -> None:
    X = sp.csr_matrix(two_classes.X - two_classes.X.min())
    P = (
        LabelSpreadingLearner()
        .fit(X, np.where(np.arange(len(X.toarray())) < 20, two_classes.y, -1))
        .predict_proba(X)
    )
    np.testing.assert_allclose(P.sum(axis=1), 1.0)


def _featurizer(name: str) -> tuple[Any, Any]:
    if name == "wordllama" and importlib.util.find_spec("wordllama") is None:
        pytest.skip("wordllama is optional and not installed")
    make, data = FEATURIZERS[name]
    return make(), data


@pytest.mark.parametrize("name", sorted(FEATURIZERS))
def test_featurizer_follows_the_estimator_contract(name: str) -> None:
    featurizer, data = _featurizer(name)
    params = featurizer.get_params()
    twin = clone(featurizer)
    assert type(twin).__init__ is type(featurizer).__init__
    assert twin.get_params().keys() == params.keys()
    assert twin.fit(data) is twin
    out = twin.transform(data)
    assert out.shape[0] == len(data)
    dense = out.toarray() if sp.issparse(out) else np.asarray(out)
    assert dense.ndim == 2 and dense.shape[1] > 0 and np.isfinite(dense).all()
    again = clone(featurizer).fit_transform(data)
    np.testing.assert_allclose(again.toarray() if sp.issparse(again) else again, dense)
    assert featurizer.modality in {"text", "image", ""}


@pytest.mark.parametrize("name", sorted(FEATURIZERS))
def test_featurizer_must_be_fitted_first(name: str) -> None:
    featurizer, data = _featurizer(name)
    with pytest.raises(ValueError, match="not fitted"):
        featurizer.transform(data)


def test_defaults_exist_for_text_images_and_audio_only() -> None:
    assert default_learner("audio") is not None
    with pytest.raises(ValueError, match="no defaults for modality 'video'"):
        default_learner("video")
    with pytest.raises(ValueError, match="known: text, image, audio"):
        default_featurizer("video")
