"""Record the SQL statements a database runs meanwhile (to count queries in tests)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import event

from hitloop.db.engine import Database


@contextmanager
def statements(db: Database) -> Iterator[list[str]]:
    """A list that receives every statement ``db``'s engine executes inside the block."""
    seen: list[str] = []

    def note(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", note)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", note)
