"""Results computed from a project's answers, kept until the project's state moves.

The project page shows measures (box quality, agreement) whose cost grows with
the project; computing them on every view makes the cost grow with page views
too. :class:`StateCache` keeps one result per database and key, with the state
it was computed from: a tuple of cheap index lookups (:func:`answer_state`)
that any change to the inputs moves. A view whose state matches gets a copy of
the kept result; concurrent views of the same key on a cold cache wait for one
computation instead of each running their own.

On PostgreSQL answers commit out of id order: one whose id is below the newest
may commit just after a computation, leaving the state as it was and the kept
result one answer short. A kept result whose state has held for ``settle_s``
(:data:`SETTLE_S`) is therefore computed once more and then kept as settled
(:attr:`Kept.settled`): exact once the transactions running at its first
computation have ended. Until then a view may get the result without the late
answer.

Callers that look up many keys at once (the project list) use :meth:`StateCache.find`,
:meth:`StateCache.current`, :meth:`StateCache.computing` and :meth:`StateCache.keep`
around a computation of their own (``keep`` settles as ``get`` does); each kept
result records when it was computed and how long that took (:class:`Kept`), so a
caller may also serve a result whose state has moved while it is young enough (the
project stats do, under continuous labeling).
"""

from __future__ import annotations

import contextlib
import copy
import threading
import time
import weakref
from collections.abc import Callable, Collection, Hashable, Iterator
from dataclasses import dataclass
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import Table, func, select

from hitloop.db.engine import Database
from hitloop.db.tables import Annotation, Event, Project

__all__ = ["SETTLE_S", "Kept", "StateCache", "answer_state", "answer_states"]

T = TypeVar("T")

# Seconds a kept result's state must hold before its one more computation: longer than the
# write transactions that insert answers run (each a few statements).
SETTLE_S = 5.0

annotations_t = cast(Table, Annotation.__table__)
events_t = cast(Table, Event.__table__)


def answer_state(s: Any, project_id: int) -> tuple[Any, ...]:
    """The newest answer id and the newest audit event id of a project: two index seeks.

    A new answer or an edit (which adds a row superseding the old one) moves the
    first; a review (accept, fix, reject: a reject adds no answer row), deleted
    items, member changes and every other audited change move the second.
    """
    return answer_states(s, [project_id]).get(project_id, (None, None))


def answer_states(s: Any, project_ids: Collection[int]) -> dict[int, tuple[Any, ...]]:
    """:func:`answer_state` of each project, in one statement (two index seeks per project)."""
    if not project_ids:
        return {}
    projects_t = cast(Table, Project.__table__)
    newest_answer = (
        select(func.max(annotations_t.c.id))
        .where(annotations_t.c.project_id == projects_t.c.id)
        .scalar_subquery()
    )
    newest_event = (
        select(func.max(events_t.c.id)).where(events_t.c.project_id == projects_t.c.id).scalar_subquery()
    )
    rows = s.execute(
        select(projects_t.c.id, newest_answer, newest_event).where(projects_t.c.id.in_(sorted(project_ids)))
    )
    return {pid: (answer, event) for pid, answer, event in rows}


@dataclass(frozen=True)
class Kept(Generic[T]):
    """A kept result: the state it came from, when (``at``, the cache's clock), its cost in seconds.

    ``settled``: computed again ``settle_s`` or more after a result of the same state was.
    """

    state: Hashable
    value: T
    at: float
    cost: float
    settled: bool = False


class StateCache(Generic[T]):
    """Per database, per key: the last result and the state it was computed from.

    At most ``entries`` keys per database (the least recently computed goes
    first). :meth:`get` gives callers a deep copy, so changing it changes
    nothing kept. ``clock`` (UNIX seconds) stamps each kept result; tests pass
    a clock of their own. ``settle_s``: how long a state must hold before its
    result is computed once more (see the module docstring).
    """

    def __init__(
        self, entries: int = 256, clock: Callable[[], float] = time.time, settle_s: float = SETTLE_S
    ) -> None:
        self.entries = entries
        self.clock = clock
        self.settle_s = settle_s
        self._kept: weakref.WeakKeyDictionary[Database, dict[Hashable, Kept[T]]] = weakref.WeakKeyDictionary()
        self._computing: weakref.WeakKeyDictionary[Database, dict[Hashable, threading.Lock]] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()

    def _hit(self, db: Database, key: Hashable, state: Hashable) -> tuple[bool, T | None]:
        hit = self.find(db, key)
        if hit is not None and self.current(hit, state):
            return True, copy.deepcopy(hit.value)
        return False, None

    def current(self, kept: Kept[T], state: Hashable) -> bool:
        """Whether ``kept`` may be served as the result of ``state``: computed from it, and
        settled or younger than ``settle_s`` (else it is computed once more)."""
        return kept.state == state and (kept.settled or self.clock() - kept.at < self.settle_s)

    def find(self, db: Database, key: Hashable) -> Kept[T] | None:
        """What is kept for ``key``, whatever its state (not a copy: treat it as read-only)."""
        with self._lock:
            return self._kept.get(db, {}).get(key)

    def keep(self, db: Database, key: Hashable, state: Hashable, value: T, at: float, cost: float) -> None:
        """Keep ``value``, computed from ``state`` at ``at`` in ``cost`` seconds, for ``key``.

        Settled when a result of the same state was kept ``settle_s`` or more before ``at``.
        """
        with self._lock:
            kept = self._kept.setdefault(db, {})
            before = kept.pop(key, None)
            settled = before is not None and before.state == state and at - before.at >= self.settle_s
            kept[key] = Kept(state, value, at, cost, settled)
            while len(kept) > self.entries:
                oldest = next(iter(kept))
                del kept[oldest]
                gates = self._computing.get(db, {})
                if oldest in gates and not gates[oldest].locked():
                    del gates[oldest]

    @contextlib.contextmanager
    def computing(self, db: Database, keys: Collection[Hashable]) -> Iterator[None]:
        """Hold the computation gates of ``keys`` (one computation per key at a time).

        Taken in one order (by ``repr``) so that callers holding overlapping sets
        of keys cannot wait on each other in a circle.
        """
        with self._lock:
            gates = self._computing.setdefault(db, {})
            held = [gates.setdefault(k, threading.Lock()) for k in sorted(keys, key=repr)]
        with contextlib.ExitStack() as stack:
            for gate in held:
                stack.enter_context(gate)
            yield

    def get(self, db: Database, key: Hashable, state: Hashable, compute: Callable[[], T]) -> T:
        """The kept result for ``key`` if it is :meth:`current` for ``state``, else ``compute()`` (then kept).

        Read ``state`` before the inputs ``compute`` reads: an answer landing in
        between is then in the result but not in the state, so the next view
        computes again (never the other way round, which would keep a stale result).
        """
        found, value = self._hit(db, key, state)
        if found:
            return cast(T, value)
        with self.computing(db, [key]):  # one computation per key at a time; the others then find its result
            found, value = self._hit(db, key, state)
            if found:
                return cast(T, value)
            at, start = self.clock(), time.perf_counter()
            result = compute()
            self.keep(db, key, state, result, at, time.perf_counter() - start)
        return copy.deepcopy(result)

    def clear(self) -> None:
        """Forget everything (tests)."""
        with self._lock:
            self._kept.clear()
            self._computing.clear()
