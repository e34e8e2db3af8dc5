"""hitloop's own learners, featurizers and query strategies, registered like any plugin."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from hitloop.hookspecs import hookimpl
from hitloop.ml.audio import AudioMfcc
from hitloop.ml.embeddings import MiniLmEmbedding
from hitloop.ml.featurizers import ImageHog, ImagePixels, StackedFeatures, TextTfidf, WordLlamaEmbedding
from hitloop.ml.learners import LabelSpreadingLearner, LogisticLearner
from hitloop.ml.remote import RemoteLearner
from hitloop.ml.strategies import STRATEGIES

__all__ = ["hitloop_featurizers", "hitloop_learners", "hitloop_strategies"]


@hookimpl
def hitloop_learners() -> Mapping[str, Callable[..., Any]]:
    return {
        "logistic": LogisticLearner,
        "label-spreading": LabelSpreadingLearner,
        "remote": RemoteLearner,
    }


@hookimpl
def hitloop_featurizers() -> Mapping[str, Callable[..., Any]]:
    return {
        "tfidf": TextTfidf,
        "wordllama": WordLlamaEmbedding,
        "minilm": MiniLmEmbedding,
        "pixels": ImagePixels,
        "hog": ImageHog,
        "mfcc": AudioMfcc,
        "stacked": StackedFeatures,
    }


@hookimpl
def hitloop_strategies() -> Mapping[str, Callable[..., Any]]:
    return dict(STRATEGIES)
