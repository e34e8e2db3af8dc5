"""Job kinds by name: a kind is a function that does the work, given a :class:`JobContext`."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from hitloop.jobs.context import JobContext

__all__ = ["JobFunction", "JobRegistry"]

JobFunction = Callable[[JobContext], dict[str, Any] | None]
"""Does one job; returns its JSON result (or None). Raises to fail the job."""


class JobRegistry(Mapping[str, JobFunction]):
    """``registry.register("train", fn)``; ``registry["train"](context)``."""

    def __init__(self) -> None:
        self._kinds: dict[str, JobFunction] = {}

    def register(self, kind: str, fn: JobFunction) -> JobFunction:
        if not kind or len(kind) > 50:
            raise ValueError(f"a job kind is 1-50 characters, got {kind!r}")
        if kind in self._kinds:
            raise ValueError(f"job kind {kind!r} is already registered")
        self._kinds[kind] = fn
        return fn

    def __getitem__(self, kind: str) -> JobFunction:
        return self._kinds[kind]

    def __iter__(self) -> Iterator[str]:
        return iter(self._kinds)

    def __len__(self) -> int:
        return len(self._kinds)
