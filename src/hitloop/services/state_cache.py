"""Results computed from a project's answers, kept until the project's state moves.

The project page shows measures (box quality, agreement) whose cost grows with
the project; computing them on every view makes the cost grow with page views
too. :class:`StateCache` keeps one result per database and key, with the state
it was computed from: a tuple of cheap index lookups (:func:`answer_state`)
that any change to the inputs moves. A view whose state matches gets a copy of
the kept result; concurrent views of the same key on a cold cache wait for one
computation instead of each running their own.
"""

from __future__ import annotations

import copy
import threading
import weakref
from collections.abc import Callable, Hashable
from typing import Any, Generic, TypeVar, cast

from sqlalchemy import Table, func, select

from hitloop.db.engine import Database
from hitloop.db.tables import Annotation, Event

__all__ = ["StateCache", "answer_state"]

T = TypeVar("T")

annotations_t = cast(Table, Annotation.__table__)
events_t = cast(Table, Event.__table__)


def answer_state(s: Any, project_id: int) -> tuple[Any, ...]:
    """The newest answer id and the newest audit event id of a project: two index seeks.

    A new answer or an edit (which adds a row superseding the old one) moves the
    first; a review (accept, fix, reject: a reject adds no answer row), deleted
    items, member changes and every other audited change move the second.
    """
    newest_answer = s.scalar(
        select(func.max(annotations_t.c.id)).where(annotations_t.c.project_id == project_id)
    )
    newest_event = s.scalar(select(func.max(events_t.c.id)).where(events_t.c.project_id == project_id))
    return (newest_answer, newest_event)


class StateCache(Generic[T]):
    """Per database, per key: the last result and the state it was computed from.

    At most ``entries`` keys per database (the least recently computed goes
    first). Callers get a deep copy, so changing it changes nothing kept.
    """

    def __init__(self, entries: int = 256) -> None:
        self.entries = entries
        self._kept: weakref.WeakKeyDictionary[Database, dict[Hashable, tuple[Hashable, T]]] = (
            weakref.WeakKeyDictionary()
        )
        self._computing: weakref.WeakKeyDictionary[Database, dict[Hashable, threading.Lock]] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()

    def _hit(self, db: Database, key: Hashable, state: Hashable) -> tuple[bool, T | None]:
        with self._lock:
            hit = self._kept.get(db, {}).get(key)
        if hit is not None and hit[0] == state:
            return True, copy.deepcopy(hit[1])
        return False, None

    def get(self, db: Database, key: Hashable, state: Hashable, compute: Callable[[], T]) -> T:
        """The kept result for ``key`` if it was computed from ``state``, else ``compute()`` (then kept).

        Read ``state`` before the inputs ``compute`` reads: an answer landing in
        between is then in the result but not in the state, so the next view
        computes again (never the other way round, which would keep a stale result).
        """
        found, value = self._hit(db, key, state)
        if found:
            return cast(T, value)
        with self._lock:
            gate = self._computing.setdefault(db, {}).setdefault(key, threading.Lock())
        with gate:  # one computation per key at a time; the others then find its result
            found, value = self._hit(db, key, state)
            if found:
                return cast(T, value)
            result = compute()
            with self._lock:
                kept = self._kept.setdefault(db, {})
                kept.pop(key, None)
                kept[key] = (state, result)
                while len(kept) > self.entries:
                    oldest = next(iter(kept))
                    del kept[oldest]
                    gates = self._computing.get(db, {})
                    if oldest in gates and not gates[oldest].locked():
                        del gates[oldest]
        return copy.deepcopy(result)

    def clear(self) -> None:
        """Forget everything (tests)."""
        with self._lock:
            self._kept.clear()
            self._computing.clear()
