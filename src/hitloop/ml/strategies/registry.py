"""Every built-in query strategy by name: the one list the contract tests and benchmarks walk."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from hitloop.ml.strategies.base import QueryStrategy
from hitloop.ml.strategies.committee import BaldCommittee, QueryByCommittee
from hitloop.ml.strategies.diversity import Badge, ColdStart, KCenterGreedy
from hitloop.ml.strategies.uncertainty import (
    CoverMargin,
    DensityWeightedMargin,
    DiverseMargin,
    Entropy,
    LeastConfidence,
    Margin,
    RandomSampling,
)

__all__ = ["DEFAULT_STRATEGY", "STRATEGIES", "make_strategy"]

STRATEGIES: Mapping[str, type[QueryStrategy]] = MappingProxyType(
    {
        "random": RandomSampling,
        "least-confidence": LeastConfidence,
        "margin": Margin,
        "entropy": Entropy,
        "diverse-margin": DiverseMargin,
        "cover-margin": CoverMargin,
        "density-margin": DensityWeightedMargin,
        "qbc-vote-entropy": QueryByCommittee,
        "qbc-bald": BaldCommittee,
        "k-center-greedy": KCenterGreedy,
        "badge": Badge,
        "cold-start": ColdStart,
    }
)

DEFAULT_STRATEGY = "diverse-margin"
"""The strategy a new project uses; see benchmarks/results/label-efficiency.md for why."""


def make_strategy(name: str, **params: Any) -> QueryStrategy:
    """A new strategy of the registered ``name`` with the given parameters."""
    try:
        cls = STRATEGIES[name]
    except KeyError:
        raise KeyError(f"unknown strategy {name!r}; known: {', '.join(STRATEGIES)}") from None
    return cls(**params)
