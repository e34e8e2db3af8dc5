"""The audit log is append-only in the database itself (triggers of migration 0002)."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import DBAPIError

from hitloop.db.tables import Event
from hitloop.services.audit import record_event


def test_events_cannot_be_changed_or_deleted(db: Any) -> None:
    with db.write() as s:
        record_event(s, None, None, "test.event", "thing", 1, {"a": 1})
    for statement in (update(Event).values(action="forged"), delete(Event)):
        with pytest.raises(DBAPIError, match="append-only"), db.write() as s:
            s.execute(statement)
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Event)) == 1
        assert s.scalar(select(Event.action)) == "test.event"
    with db.write() as s:  # adding stays possible
        record_event(s, None, None, "test.second", "thing", 2, {})
    with db.read() as s:
        assert s.scalar(select(func.count()).select_from(Event)) == 2
