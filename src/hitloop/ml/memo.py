"""Results computed from a pool's features, kept while that feature object lives.

A project computes its features once and passes the same array to every
retraining and scoring; what depends on the features alone (the kNN graph,
cluster densities) is computed once per object. Entries hold only a weak
reference to the features, so nothing outlives them.
"""

from __future__ import annotations

import contextlib
import weakref
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar

__all__ = ["FeatureMemo"]

T = TypeVar("T")


class FeatureMemo(Generic[T]):
    """``memo.get(X, key, compute)``: ``compute()`` once per live ``X`` and ``key``."""

    def __init__(self) -> None:
        self._entries: dict[tuple[int, Hashable], tuple[weakref.ref[Any], T]] = {}

    def get(self, X: Any, key: Hashable, compute: Callable[[], T]) -> T:
        slot = (id(X), key)
        entry = self._entries.get(slot)
        if entry is not None and entry[0]() is X:
            return entry[1]
        value = compute()
        for stale in [s for s, (ref, _) in self._entries.items() if ref() is None]:
            del self._entries[stale]
        with contextlib.suppress(TypeError):  # objects without weak references are not cached
            self._entries[slot] = (weakref.ref(X), value)
        return value
