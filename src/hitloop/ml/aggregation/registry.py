"""Every built-in aggregator by name: the one list that the contract tests and benchmarks walk."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from hitloop.ml.aggregation.base import Aggregator
from hitloop.ml.aggregation.dawid_skene import DawidSkene
from hitloop.ml.aggregation.glad import GLAD
from hitloop.ml.aggregation.majority import MajorityVote
from hitloop.ml.aggregation.model_assisted import ModelAssisted
from hitloop.ml.aggregation.one_coin import OneCoinDawidSkene

__all__ = ["AGGREGATORS", "make_aggregator"]

AGGREGATORS: Mapping[str, type[Aggregator]] = MappingProxyType(
    {
        "majority-vote": MajorityVote,
        "dawid-skene": DawidSkene,
        "one-coin-dawid-skene": OneCoinDawidSkene,
        "glad": GLAD,
        "model-assisted": ModelAssisted,
    }
)


def make_aggregator(name: str, **params: Any) -> Aggregator:
    """A new aggregator of the registered ``name`` with the given parameters."""
    try:
        cls = AGGREGATORS[name]
    except KeyError:
        raise KeyError(f"unknown aggregator {name!r}; known: {', '.join(AGGREGATORS)}") from None
    return cls(**params)
