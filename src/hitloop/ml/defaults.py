"""What a new project starts with, per modality: featurizer, learner and query strategy.

One place that states the defaults, so the loop, ``hitloop simulate`` and
the label-efficiency benchmark (``benchmarks/label_efficiency.py``, which
measured these choices) all use the same ones.
"""

from __future__ import annotations

from typing import Any

from hitloop.ml.audio import AudioMfcc
from hitloop.ml.featurizers import Featurizer, ImageHog, TextTfidf
from hitloop.ml.learners import LabelSpreadingLearner, Learner, LogisticLearner
from hitloop.ml.strategies import DEFAULT_STRATEGY, QueryStrategy, make_strategy

__all__ = ["default_featurizer", "default_learner", "default_strategy", "semi_supervised_learner"]

MODALITIES = ("text", "image", "audio")


def _check(modality: str) -> None:
    if modality not in MODALITIES:
        raise ValueError(f"no defaults for modality {modality!r}; known: {', '.join(MODALITIES)}")


def default_featurizer(modality: str) -> Featurizer:
    """Word and character TF-IDF for text; HOG with pixels for images; MFCC statistics for audio."""
    _check(modality)
    if modality == "audio":
        return AudioMfcc()
    return TextTfidf(char_ngrams=True) if modality == "text" else ImageHog(with_pixels=True)


def default_learner(modality: str, classes: Any = None) -> Learner:
    """Calibrated logistic regression; for images, trained on labels spread over the pool's kNN graph.

    Image features cluster by class, so spread labels are right far from the
    labeled items (alpha 0.9). TF-IDF neighbourhoods follow topic rather than
    class (a TREC question's type, a sentence's sentiment), so on text spreading
    cost labels on two of three benchmark sets; text learns from its labels alone.
    """
    _check(modality)
    if modality == "image":
        return LabelSpreadingLearner(classes=classes, alpha=0.9, unlabeled_weight=0.5)
    return LogisticLearner(classes=classes)


def default_strategy() -> QueryStrategy:
    """Margin with diverse batches; cold start by clustering before the first model."""
    return make_strategy(DEFAULT_STRATEGY)


def semi_supervised_learner(classes: Any = None) -> Learner:
    """Label spreading tuned for text (short reach, half-weight pseudo-labels), an option per project."""
    return LabelSpreadingLearner(classes=classes, alpha=0.2, unlabeled_weight=0.5)
