"""Featurizers: raw items (texts, images) to the feature matrices learners and strategies read.

Every featurizer is a scikit-learn transformer: ``fit(X_raw)`` learns from the
project's pool (vocabulary, scale), ``transform(X_raw)`` returns an array or a
sparse matrix of shape (n_items, n_features). An audio featurizer fits the same
interface.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

import numpy as np
import scipy.sparse as sp
from numpy.typing import NDArray
from scipy import ndimage
from sklearn.base import BaseEstimator, TransformerMixin, clone
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.utils.validation import check_is_fitted

from hitloop.ml.hog import hog
from hitloop.ml.linalg import Features, normalized_rows

__all__ = [
    "Featurizer",
    "ImageHog",
    "ImagePixels",
    "PackagedModelFeaturizer",
    "StackedFeatures",
    "TextTfidf",
    "WordLlamaEmbedding",
]


class Featurizer(TransformerMixin, BaseEstimator):  # type: ignore[misc]
    """Base class: ``fit(X_raw) -> self``, ``transform(X_raw) -> (n_items, n_features)``."""

    #: The item modality this featurizer reads: "text", "image" or "audio".
    modality: ClassVar[str] = ""

    def fit(self, X: Any, y: Any = None) -> Self:
        raise NotImplementedError

    def transform(self, X: Any) -> Features:
        raise NotImplementedError


class PackagedModelFeaturizer(Featurizer):
    """A featurizer whose model ships inside an installed package (``_load`` reads it from there).

    The model (``model_``) is not pickled: a copy read back (the feature
    store, a Dask worker) loads it from the package again on first use.
    """

    def _load(self) -> Any:
        raise NotImplementedError

    def _model(self) -> Any:
        model = self.__dict__.get("model_")
        if model is None:
            model = self.model_ = self._load()
        return model

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())
        state.pop("model_", None)
        return state


def as_texts(X: Any) -> list[str]:
    if isinstance(X, str):
        raise TypeError("expected a sequence of texts, got a single string")
    texts = list(X)
    bad = next((t for t in texts if not isinstance(t, str)), None)
    if bad is not None:
        raise TypeError(f"texts must be str, got {type(bad).__name__}")
    return texts


class TextTfidf(Featurizer):
    """TF-IDF of word n-grams, optionally stacked with character n-grams.

    Parameters
    ----------
    ngram_range : tuple of int
        Word n-gram lengths (default unigrams and bigrams).
    char_ngrams : bool
        Also use character n-grams within word boundaries; more robust to
        spelling variants, spam obfuscation and small data.
    char_ngram_range : tuple of int
        Character n-gram lengths when ``char_ngrams``.
    min_df : int
        Ignore terms seen in fewer items.
    max_features : int or None
        Keep only the most frequent terms of each vocabulary.
    sublinear_tf : bool
        Use 1 + log(tf), which keeps long texts from dominating.

    Attributes
    ----------
    vectorizers_ : list of TfidfVectorizer
    n_features_out_ : int
    """

    modality = "text"

    def __init__(
        self,
        ngram_range: tuple[int, int] = (1, 2),
        char_ngrams: bool = False,
        char_ngram_range: tuple[int, int] = (2, 5),
        min_df: int = 1,
        max_features: int | None = None,
        sublinear_tf: bool = True,
    ) -> None:
        self.ngram_range = ngram_range
        self.char_ngrams = char_ngrams
        self.char_ngram_range = char_ngram_range
        self.min_df = min_df
        self.max_features = max_features
        self.sublinear_tf = sublinear_tf

    def _make(self) -> list[TfidfVectorizer]:
        common = {"min_df": self.min_df, "max_features": self.max_features, "sublinear_tf": self.sublinear_tf}
        out = [TfidfVectorizer(ngram_range=tuple(self.ngram_range), **common)]
        if self.char_ngrams:
            out.append(
                TfidfVectorizer(analyzer="char_wb", ngram_range=tuple(self.char_ngram_range), **common)
            )
        return out

    def fit(self, X: Any, y: Any = None) -> Self:
        texts = as_texts(X)
        if not texts:
            raise ValueError("cannot fit a vocabulary on zero texts")
        self.vectorizers_ = [v.fit(texts) for v in self._make()]
        self.n_features_out_ = sum(len(v.vocabulary_) for v in self.vectorizers_)
        return self

    def transform(self, X: Any) -> Features:
        check_is_fitted(self, "vectorizers_")
        texts = as_texts(X)
        parts = [v.transform(texts) for v in self.vectorizers_]
        if len(parts) == 1:
            return sp.csr_matrix(parts[0])
        # Each part has unit rows; scaling keeps the stacked rows at unit norm.
        return sp.csr_matrix(sp.hstack(parts) / np.sqrt(len(parts)))


def _images(X: Any, size: tuple[int, int] | None) -> NDArray[np.float64]:
    """A stack (n, height, width) of grayscale images, resized to ``size`` if given."""
    if isinstance(X, np.ndarray) and X.dtype != object:
        items: Sequence[Any] = list(X) if X.ndim >= 3 else [X]
    else:
        items = list(X)
    if not items:
        raise ValueError("no images given")
    out = []
    for item in items:
        if isinstance(item, str | Path):
            raise TypeError("featurizers take decoded image arrays; load files at the edge")
        a = np.asarray(item, dtype=np.float64)
        if a.ndim == 3:  # (height, width, channels): luminance-free mean keeps this dependency-free
            a = a[..., :3].mean(axis=2)
        if a.ndim != 2:
            raise ValueError(f"an image must be 2-D or (height, width, channels), got shape {a.shape}")
        if size is not None and a.shape != tuple(size):
            zoom = (size[0] / a.shape[0], size[1] / a.shape[1])
            a = ndimage.zoom(a, zoom, order=1, grid_mode=True, mode="nearest")
        out.append(a)
    shapes = {a.shape for a in out}
    if len(shapes) > 1:
        raise ValueError(f"images differ in size {sorted(shapes)}; set size=(height, width)")
    stacked = np.stack(out)
    if not np.isfinite(stacked).all():
        raise ValueError("images contain NaN or infinite values")
    return stacked


class ImagePixels(Featurizer):
    """Flattened grayscale pixels scaled to [0, 1].

    Parameters
    ----------
    size : tuple of int or None
        Resize every image to (height, width); None requires equal sizes.

    Attributes
    ----------
    scale_ : float
        The largest intensity seen in ``fit`` (255 for 8-bit images, 16 for
        scikit-learn's digits); intensities are divided by it.
    shape_ : tuple of int
    """

    modality = "image"

    def __init__(self, size: tuple[int, int] | None = None) -> None:
        self.size = size

    def fit(self, X: Any, y: Any = None) -> Self:
        images = _images(X, self.size)
        self.shape_ = images.shape[1:]
        peak = float(np.abs(images).max())
        self.scale_ = peak if peak > 0 else 1.0
        return self

    def transform(self, X: Any) -> Features:
        check_is_fitted(self, "scale_")
        images = _images(X, self.size or self.shape_)
        return images.reshape(len(images), -1) / self.scale_


class ImageHog(Featurizer):
    """Histograms of oriented gradients, optionally with the scaled pixels alongside.

    Parameters
    ----------
    size : tuple of int or None
        Resize every image to (height, width) first.
    cells, block, orientations : int
        See :func:`hitloop.ml.hog.hog`.
    with_pixels : bool
        Append the [0, 1]-scaled pixels: gradients capture shape, pixels
        capture where ink is; together they beat either alone on digits.

    Attributes
    ----------
    pixels_ : ImagePixels or None
    n_features_out_ : int
    """

    modality = "image"

    def __init__(
        self,
        size: tuple[int, int] | None = None,
        cells: int = 4,
        block: int = 2,
        orientations: int = 9,
        with_pixels: bool = True,
    ) -> None:
        self.size = size
        self.cells = cells
        self.block = block
        self.orientations = orientations
        self.with_pixels = with_pixels

    def fit(self, X: Any, y: Any = None) -> Self:
        images = _images(X, self.size)
        self.shape_ = images.shape[1:]
        self.pixels_ = ImagePixels(size=self.size).fit(images) if self.with_pixels else None
        self.n_features_out_ = self.transform(images[:1]).shape[1]
        return self

    def transform(self, X: Any) -> Features:
        check_is_fitted(self, "shape_")
        images = _images(X, self.size or self.shape_)
        features = hog(images, cells=self.cells, block=self.block, orientations=self.orientations)
        if self.pixels_ is not None:
            features = np.hstack([np.asarray(self.pixels_.transform(images)), features])
        return features


class StackedFeatures(Featurizer):
    """Several featurizers side by side, each block scaled by a weight.

    Parameters
    ----------
    parts : list of Featurizer
    weights : list of float or None
        Multiplies each block (default 1 each; with ``normalize``, 1/sqrt(k)
        each for k parts, so stacked rows have unit length).
    normalize : bool
        Scale every row of every block to unit length before weighting, so
        blocks of different scales (TF-IDF, raw embeddings) weigh alike.

    Attributes
    ----------
    parts_ : list of Featurizer
        Fitted clones of ``parts``.
    """

    def __init__(
        self,
        parts: Sequence[Featurizer] = (),
        weights: Sequence[float] | None = None,
        normalize: bool = False,
    ) -> None:
        self.parts = parts
        self.weights = weights
        self.normalize = normalize

    @property
    def modality(self) -> str:  # type: ignore[override]
        """The parts' modality ("" when they differ or there are none)."""
        kinds = {getattr(p, "modality", "") for p in self.parts}
        return kinds.pop() if len(kinds) == 1 else ""

    def fit(self, X: Any, y: Any = None) -> Self:
        if not self.parts:
            raise ValueError("StackedFeatures needs at least one part")
        if self.weights is not None and len(self.weights) != len(self.parts):
            raise ValueError(f"{len(self.weights)} weights for {len(self.parts)} parts")
        self.parts_ = [clone(p).fit(X) for p in self.parts]
        return self

    def transform(self, X: Any) -> Features:
        check_is_fitted(self, "parts_")
        k = len(self.parts_)
        default = 1.0 / np.sqrt(k) if self.normalize else 1.0
        weights = list(self.weights) if self.weights is not None else [default] * k
        blocks = [p.transform(X) for p in self.parts_]
        if self.normalize:
            blocks = [normalized_rows(b) for b in blocks]
        if any(sp.issparse(b) for b in blocks):
            return sp.csr_matrix(
                sp.hstack([sp.csr_matrix(b) * w for b, w in zip(blocks, weights, strict=True)])
            )
        return np.hstack([np.asarray(b) * w for b, w in zip(blocks, weights, strict=True)])


class WordLlamaEmbedding(PackagedModelFeaturizer):
    """Static sentence embeddings from the ``wordllama`` package (weights ship inside it).

    ``pip install wordllama``. Nothing is downloaded; the tokenizer and
    weights are read from the installed package. The weights (about 34 MB in
    memory) are not pickled with the fitted featurizer: a copy read back
    from disk (the feature store, a Dask worker) loads them again from the
    package on first use (about 0.5 s).

    Parameters
    ----------
    dim : int
        Embedding size (wordllama's Matryoshka truncations: 64 to 1024).

    Attributes
    ----------
    model_ : wordllama.WordLlama
    n_features_out_ : int
    """

    modality = "text"

    def __init__(self, dim: int = 256) -> None:
        self.dim = dim

    def _load(self) -> Any:
        try:
            import wordllama
        except ImportError as exc:
            raise ImportError(
                "WordLlamaEmbedding needs the wordllama package: pip install wordllama"
            ) from exc
        cache = Path(wordllama.__file__).parent
        return wordllama.WordLlama.load(cache_dir=cache, disable_download=True, dim=self.dim)

    def fit(self, X: Any, y: Any = None) -> Self:
        self.model_ = self._load()
        self.n_features_out_ = int(self.dim)
        return self

    def transform(self, X: Any) -> Features:
        check_is_fitted(self, "n_features_out_")
        texts = as_texts(X)
        if not texts:
            return np.empty((0, self.n_features_out_))
        return np.asarray(self._model().embed(texts), dtype=np.float64)
