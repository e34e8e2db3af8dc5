"""What a new project starts with, per modality: featurizer, learner and query strategy.

One place that states the defaults, so the loop, ``hitloop simulate`` and
the label-efficiency benchmark (``benchmarks/label_efficiency.py``, which
measured these choices) all use the same ones.
"""

from __future__ import annotations

from typing import Any

from hitloop.ml.featurizers import Featurizer, ImageHog, TextTfidf
from hitloop.ml.learners import LabelSpreadingLearner, Learner, LogisticLearner
from hitloop.ml.strategies import DEFAULT_STRATEGY, QueryStrategy, make_strategy

__all__ = ["default_featurizer", "default_learner", "default_strategy"]

MODALITIES = ("text", "image")


def _check(modality: str) -> None:
    if modality not in MODALITIES:
        raise ValueError(f"no defaults for modality {modality!r}; known: {', '.join(MODALITIES)}")


def default_featurizer(modality: str) -> Featurizer:
    """Word and character TF-IDF for text; HOG with pixels for images."""
    _check(modality)
    return TextTfidf(char_ngrams=True) if modality == "text" else ImageHog(with_pixels=True)


def default_learner(modality: str, classes: Any = None) -> Learner:
    """Calibrated logistic regression on labels spread over the pool's kNN graph.

    Images cluster cleanly, so labels travel far (alpha 0.9); bag-of-words
    neighbourhoods are noisier, so text spreads less and trusts pseudo-labels less.
    """
    _check(modality)
    if modality == "image":
        return LabelSpreadingLearner(classes=classes, alpha=0.9, unlabeled_weight=0.5)
    return LabelSpreadingLearner(classes=classes, alpha=0.2, unlabeled_weight=0.5)


def default_strategy() -> QueryStrategy:
    """Margin with diverse batches; cold start by clustering before the first model."""
    return make_strategy(DEFAULT_STRATEGY)


def plain_learner(classes: Any = None) -> Learner:
    """Logistic regression alone: the learner when the pool is too large for a kNN graph."""
    return LogisticLearner(classes=classes)
