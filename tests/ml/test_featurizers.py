from __future__ import annotations

import numpy as np
import pytest
import scipy.sparse as sp

from hitloop.ml.featurizers import ImageHog, ImagePixels, TextTfidf
from hitloop.ml.hog import hog


def test_tfidf_rows_have_unit_norm_with_and_without_characters() -> None:
    texts = ["free money click here", "nice song", "click for free money!!!"]
    for featurizer in (TextTfidf(), TextTfidf(char_ngrams=True)):
        X = featurizer.fit_transform(texts)
        assert sp.issparse(X)
        np.testing.assert_allclose(np.sqrt(X.multiply(X).sum(axis=1)).A.ravel(), 1.0)


def test_tfidf_takes_only_sequences_of_strings() -> None:
    with pytest.raises(TypeError, match="single string"):
        TextTfidf().fit("one text")
    with pytest.raises(TypeError, match="texts must be str"):
        TextTfidf().fit(["ok", 3])
    with pytest.raises(ValueError, match="zero texts"):
        TextTfidf().fit([])


def test_pixels_are_scaled_by_the_largest_fitted_intensity(
    digits: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    images, pixels, _ = digits
    featurizer = ImagePixels().fit(images)
    assert featurizer.scale_ == 16.0
    np.testing.assert_allclose(featurizer.transform(images[:5]), pixels[:5])


def test_color_images_become_grayscale_and_sizes_must_match() -> None:
    rgb = np.zeros((2, 6, 6, 3))
    assert ImagePixels().fit_transform(rgb).shape == (2, 36)
    with pytest.raises(ValueError, match="differ in size"):
        ImagePixels().fit([np.zeros((4, 4)), np.zeros((5, 5))])
    with pytest.raises(TypeError, match="decoded image arrays"):
        ImagePixels().fit(["cat.png"])


def test_hog_has_the_documented_size_and_ignores_brightness_scale() -> None:
    images = np.random.default_rng(1).random((3, 16, 16))
    out = hog(images, cells=4, block=2, orientations=9)
    assert out.shape == (3, 3 * 3 * 2 * 2 * 9)
    np.testing.assert_allclose(hog(images * 7.0), out, atol=1e-6)


def test_hog_sees_edge_orientation() -> None:
    vertical = np.zeros((1, 8, 8))
    vertical[:, :, 4:] = 1.0
    histogram = hog(vertical, cells=1, block=1, orientations=4)[0]
    assert np.argmax(histogram) == 0  # horizontal gradient = orientation bin around 0 rad


def test_hog_rejects_impossible_layouts() -> None:
    with pytest.raises(ValueError, match="too small"):
        hog(np.zeros((1, 3, 3)), cells=4)
    with pytest.raises(ValueError, match="block must be"):
        hog(np.zeros((1, 8, 8)), cells=2, block=3)


def test_hog_with_pixels_beats_pixels_alone_on_digits(
    digits: tuple[np.ndarray, np.ndarray, np.ndarray],
) -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score

    images, _, y = digits
    images, y = images[:600], y[:600]
    scores = {}
    for name, featurizer in {"pixels": ImagePixels(), "hog": ImageHog()}.items():
        X = featurizer.fit_transform(images)
        model = LogisticRegression(C=10, solver="newton-cg", max_iter=500)
        scores[name] = cross_val_score(model, X, y, cv=3).mean()
    assert scores["hog"] > scores["pixels"]
