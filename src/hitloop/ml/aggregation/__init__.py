"""Aggregation of many answers per item into a consensus label, a confidence and worker skills.

Every aggregator is a scikit-learn-style estimator: ``fit(answers)`` on an
``(n_answers, 3)`` integer table of ``item, worker, label`` codes (build one
with :func:`encode_answers`), then read ``labels_``, ``proba_``,
``confidence_`` and ``skills_``.
"""

from __future__ import annotations

from hitloop.ml.aggregation.answers import AnswerTable, EncodedAnswers, check_answers, encode_answers
from hitloop.ml.aggregation.base import Aggregator
from hitloop.ml.aggregation.dawid_skene import DawidSkene, dawid_skene
from hitloop.ml.aggregation.glad import GLAD, glad
from hitloop.ml.aggregation.majority import MajorityVote, majority_vote
from hitloop.ml.aggregation.model_assisted import ModelAssisted, crowdlab_consensus
from hitloop.ml.aggregation.one_coin import OneCoinDawidSkene, one_coin_dawid_skene
from hitloop.ml.aggregation.registry import AGGREGATORS, make_aggregator

__all__ = [
    "AGGREGATORS",
    "GLAD",
    "Aggregator",
    "AnswerTable",
    "DawidSkene",
    "EncodedAnswers",
    "MajorityVote",
    "ModelAssisted",
    "OneCoinDawidSkene",
    "check_answers",
    "crowdlab_consensus",
    "dawid_skene",
    "encode_answers",
    "glad",
    "majority_vote",
    "make_aggregator",
    "one_coin_dawid_skene",
]
