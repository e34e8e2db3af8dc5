"""Query strategies: which items a person should label next.

Each strategy is a pure scoring function (:mod:`.scoring`) composed with a
pure selection function (:mod:`.selection`) by a thin scikit-learn-style
class holding the parameters. All share one call::

    pool = Pool(X, labeled=idx, y=labels, learner=fitted_learner)
    batch = strategy.select(pool, n=10, random_state=0)   # next items to label
    priority = strategy.score(pool)                       # one score per item, -inf if labeled

:data:`STRATEGIES` maps names to classes; :func:`make_strategy` builds one.
"""

from __future__ import annotations

from hitloop.ml.strategies.base import Pool, QueryStrategy
from hitloop.ml.strategies.committee import BaldCommittee, QueryByCommittee
from hitloop.ml.strategies.diversity import Badge, ColdStart, KCenterGreedy
from hitloop.ml.strategies.registry import DEFAULT_STRATEGY, STRATEGIES, make_strategy
from hitloop.ml.strategies.uncertainty import (
    CoverMargin,
    DensityWeightedMargin,
    DiverseMargin,
    Entropy,
    LeastConfidence,
    Margin,
    RandomSampling,
    UncertaintySampling,
)

__all__ = [
    "DEFAULT_STRATEGY",
    "STRATEGIES",
    "Badge",
    "BaldCommittee",
    "ColdStart",
    "CoverMargin",
    "DensityWeightedMargin",
    "DiverseMargin",
    "Entropy",
    "KCenterGreedy",
    "LeastConfidence",
    "Margin",
    "Pool",
    "QueryByCommittee",
    "QueryStrategy",
    "RandomSampling",
    "UncertaintySampling",
    "make_strategy",
]
