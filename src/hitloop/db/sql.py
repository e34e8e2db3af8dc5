"""Hand-written SQL for the hot paths, run straight on the driver.

The queue's next and submit statements run thousands of times a second;
building and compiling SQLAlchemy expressions costs more than executing them.
A :class:`Statement` is written once with ``:name`` parameters and rendered
for the connection's driver (``?``-style for sqlite3, ``%(name)s`` for psycopg).
"""

from __future__ import annotations

import json
import re
from typing import Any

from sqlalchemy import Connection

__all__ = ["Statement", "json_in", "json_out"]

# json.dumps builds a new encoder on every call when given options; reuse one.
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_PARAM = re.compile(r"(?<![:\w]):(\w+)")


class Statement:
    """SQL text with ``:name`` parameters; ``{pg:...}`` parts appear only on PostgreSQL."""

    def __init__(self, sql: str) -> None:
        self.sql = " ".join(sql.split())
        self._rendered: dict[str, str] = {}

    def render(self, dialect: str) -> str:
        text = self._rendered.get(dialect)
        if text is None:
            keep = dialect == "postgresql"
            text = re.sub(r"\{pg:([^}]*)\}", lambda m: m.group(1) if keep else "", self.sql)
            text = _PARAM.sub(r"%(\1)s" if keep else r":\1", text) if keep else text
            self._rendered[dialect] = text
        return text

    def run(self, conn: Connection, params: dict[str, Any] | list[dict[str, Any]] | None = None) -> Any:
        """Execute; a list of parameter dicts runs the driver's executemany."""
        return conn.exec_driver_sql(self.render(conn.dialect.name), params or {})  # type: ignore[arg-type]


def json_in(conn: Connection, value: Any) -> Any:
    """A JSON parameter: text for SQLite, psycopg's Jsonb wrapper for PostgreSQL."""
    if value is None:
        return None
    if conn.dialect.name == "postgresql":
        from psycopg.types.json import Jsonb

        return Jsonb(value)
    return _encode(value)


def json_out(value: Any) -> Any:
    """A JSON column as read by the driver: SQLite gives text, psycopg gives objects."""
    return json.loads(value) if isinstance(value, str) else value
