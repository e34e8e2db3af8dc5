"""Where an import's rows wait until the whole source has been read: a temporary table.

An import holds one database connection for its whole run and writes its rows
into a ``TEMP`` table on it. The table is private to that connection, so
staging takes no lock that annotators wait for (on SQLite it is not even in the
database file), and it vanishes with the connection if the process dies.
Publishing copies the rows into ``items`` with one ``INSERT ... SELECT``, in the
transaction that marks the import done: the items appear all at once, in the
order they were read. Copying inside the database costs less than writing the
rows into ``items`` as hidden and updating each one to ``open`` afterwards.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from hitloop.db.engine import Database

__all__ = ["ImportStage"]

_CREATE = {
    # n numbers the rows in the order they were staged (the rowid, on SQLite).
    "sqlite": "CREATE TEMP TABLE {name} (n INTEGER PRIMARY KEY, external_id TEXT, text TEXT,"
    " media_sha256 TEXT, meta TEXT, gold TEXT)",
    "postgresql": "CREATE TEMP TABLE {name} (n BIGSERIAL, external_id TEXT, text TEXT,"
    " media_sha256 TEXT, meta TEXT, gold TEXT)",
}
_INSERT = {
    "sqlite": "INSERT INTO {name} (external_id, text, media_sha256, meta, gold) VALUES (?, ?, ?, ?, ?)",
    "postgresql": "COPY {name} (external_id, text, media_sha256, meta, gold) FROM STDIN",
}
_JSON = {"sqlite": "{column}", "postgresql": "CAST({column} AS JSONB)"}


class ImportStage:
    """The staging table of import ``run_id`` and the connection that holds it.

    Use as a context manager: it opens the connection and creates the table, and
    on exit closes the connection, which drops the table.
    """

    def __init__(self, db: Database, run_id: int) -> None:
        self.db = db
        self.name = f"hitloop_import_{int(run_id)}"
        self._conn: Connection | None = None

    def __enter__(self) -> ImportStage:
        conn = self.db.engine.connect()
        try:
            dialect = conn.dialect.name
            self._insert = _INSERT[dialect].format(name=self.name)
            with conn.begin():
                conn.exec_driver_sql(_CREATE[dialect].format(name=self.name))
        except BaseException:
            conn.invalidate()
            conn.close()
            raise
        self._conn = conn
        return self

    def __exit__(self, *exc: object) -> None:
        conn = self._require()
        self._conn = None
        # Closing the connection for good drops the table with it, at once (a DROP
        # TABLE would free its pages one by one), and keeps it out of the pool.
        conn.invalidate()
        conn.close()

    def _require(self) -> Connection:
        if self._conn is None:
            raise RuntimeError("the import stage is not open")
        return self._conn

    def write(self, rows: list[tuple[Any, ...]]) -> None:
        """Stage rows of (external_id, text, media_sha256, meta JSON text, gold JSON text or None)."""
        conn = self._require()
        with conn.begin():
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            try:
                if conn.dialect.name == "postgresql":
                    # COPY streams the rows in one command, several times faster than INSERTs.
                    with cursor.copy(self._insert) as copy:
                        for row in rows:
                            copy.write_row(row)
                else:
                    cursor.executemany(self._insert, rows)
            finally:
                cursor.close()

    @contextmanager
    def publishing(self) -> Iterator[Session]:
        """A session in one write transaction on the stage's connection; see :meth:`copy_into_items`."""
        conn = self._require()
        # BEGIN IMMEDIATE on SQLite, in this process's turn: the copy is a write like any other.
        conn.execution_options(sqlite_begin="IMMEDIATE")
        try:
            with self.db.write_turn(), Session(bind=conn) as session, session.begin():
                yield session
        finally:
            conn.execution_options(sqlite_begin="DEFERRED")

    def copy_into_items(self, session: Session, project_id: int, run_id: int, now: float) -> int:
        """Insert the staged rows as items (``gold`` when they carry a known answer); returns how many."""
        dialect = self._require().dialect.name
        meta, gold = (_JSON[dialect].format(column=c) for c in ("meta", "gold"))
        result = session.execute(
            text(
                "INSERT INTO items (project_id, external_id, text, media_sha256, meta, priority, state,"
                " n_answers, source, import_id, created_at, gold)"
                f" SELECT :p, external_id, text, media_sha256, {meta}, 0.0,"
                " CASE WHEN gold IS NULL THEN 'open' ELSE 'gold' END,"
                f" 0, 'import', :run, :now, {gold} FROM {self.name} ORDER BY n"
            ),
            {"p": project_id, "run": run_id, "now": now},
        )
        return int(result.rowcount)  # type: ignore[attr-defined]
