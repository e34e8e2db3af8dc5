"""Hand-written SQL for the hot paths, run straight on the driver.

The queue's next and submit statements run thousands of times a second;
building and compiling SQLAlchemy expressions costs more than executing them.
A :class:`Statement` is written once with ``:name`` parameters and rendered
for the connection's driver (``?``-style for sqlite3, ``%(name)s`` for psycopg).
"""

from __future__ import annotations

import collections
import functools
import json
import re
from collections.abc import Iterator
from typing import Any

import orjson

from hitloop.db.engine import DriverConnection

__all__ = ["Rows", "Statement", "json_in", "json_out", "json_text"]

# json.dumps builds a new encoder on every call when given options; reuse one.
_std_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode


def json_text(value: Any) -> str:
    """Compact JSON text; orjson is ~10x faster, the standard library takes what it refuses.

    (orjson refuses integers past 64 bits, non-string keys and lone surrogates.)
    """
    try:
        return orjson.dumps(value).decode()
    except TypeError:
        return _std_encode(value)


_PARAM = re.compile(r"(?<![:\w]):(\w+)")


class Statement:
    """SQL text with ``:name`` or positional ``?`` parameters.

    ``{pg:...}`` parts appear only on PostgreSQL. The SQL itself must hold no
    literal ``?`` (it becomes ``%s`` for psycopg).
    """

    def __init__(self, sql: str) -> None:
        self.sql = " ".join(sql.split())
        self._rendered: dict[str, str] = {}
        # The result's row type per dialect, learned on first use: reading a psycopg
        # cursor's description builds a Column object per column on every call.
        self.row_types: dict[str, Any] = {}

    def render(self, dialect: str) -> str:
        text = self._rendered.get(dialect)
        if text is None:
            keep = dialect == "postgresql"
            text = re.sub(r"\{pg:([^}]*)\}", lambda m: m.group(1) if keep else "", self.sql)
            if keep:
                text = _PARAM.sub(r"%(\1)s", text).replace("?", "%s")
            self._rendered[dialect] = text
        return text

    def stream(self, conn: DriverConnection, params: dict[str, Any], *, chunk: int = 10_000) -> Iterator[Any]:
        """Yield raw row tuples in chunks; PostgreSQL uses a server-side cursor."""
        if conn.dialect == "postgresql":
            cursor = conn.raw.cursor(name=f"hitloop_stream_{id(self)}")
        else:
            cursor = conn.raw.cursor()
        try:
            cursor.execute(self.render(conn.dialect), params)
            while rows := cursor.fetchmany(chunk):
                yield from rows
        finally:
            cursor.close()

    def run(self, conn: DriverConnection, params: dict[str, Any] | list[Any] | None = None) -> Rows:
        """Execute on the driver's own cursor, inside ``conn``'s transaction.

        A list of parameter dicts runs the driver's executemany. Skipping
        SQLAlchemy's result machinery halves the cost of these small statements.
        """
        cursor = conn.raw.cursor()
        sql = self.render(conn.dialect)
        if isinstance(params, list):
            cursor.executemany(sql, params)
        else:
            cursor.execute(sql, params or {})
        return Rows(cursor, self.row_types, conn.dialect)


@functools.lru_cache(maxsize=256)
def _row_type(names: tuple[str, ...]) -> Any:
    return collections.namedtuple("Row", names)


class Rows:
    """The few result accessors the hot paths use, with rows as named tuples."""

    def __init__(self, cursor: Any, row_types: dict[str, Any] | None = None, dialect: str = "") -> None:
        self._cursor = cursor
        self.rowcount: int = cursor.rowcount
        self._row_types = {} if row_types is None else row_types
        self._dialect = dialect

    def _row(self) -> Any:
        """The named-tuple type of the rows, or None when the statement returns none."""
        row = self._row_types.get(self._dialect)
        if row is None:
            description = self._cursor.description
            if description is None:
                return None
            row = self._row_types[self._dialect] = _row_type(tuple(d[0] for d in description))
        return row

    def all(self) -> list[Any]:
        row = self._row()
        if row is None:
            return []
        make = row._make
        return [make(r) for r in self._cursor.fetchall()]

    def first(self) -> Any:
        raw = self._cursor.fetchone()
        return None if raw is None else self._row()._make(raw)

    def one(self) -> Any:
        row = self.first()
        if row is None:
            raise LookupError("expected one row, got none")
        return row

    def scalar_one(self) -> Any:
        return self.one()[0]

    def scalars(self) -> list[Any]:
        return [r[0] for r in self._cursor.fetchall()]


def json_in(conn: DriverConnection, value: Any) -> Any:
    """A JSON parameter: text for SQLite, psycopg's Jsonb wrapper for PostgreSQL."""
    if value is None:
        return None
    if conn.dialect == "postgresql":
        from psycopg.types.json import Jsonb

        return Jsonb(value)
    return json_text(value)


def json_out(value: Any) -> Any:
    """A JSON column as read by the driver: SQLite gives text, psycopg gives objects."""
    return json.loads(value) if isinstance(value, str) else value
