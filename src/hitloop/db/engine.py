"""Engine and session factories.

SQLite runs in WAL mode with a busy timeout. Every write transaction starts
with ``BEGIN IMMEDIATE``, so a writer waits for the lock up front instead of
failing half way with "database is locked"; reads use plain ``BEGIN``.
PostgreSQL uses READ COMMITTED and ``FOR UPDATE SKIP LOCKED`` in the queue.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

try:
    import fcntl
except ImportError:  # not POSIX: writers in other processes rely on SQLite's busy timeout
    fcntl = None  # type: ignore[assignment]

__all__ = ["Database", "DriverConnection"]


class DriverConnection:
    """A driver (DBAPI) connection inside a transaction, and its dialect's name."""

    __slots__ = ("dialect", "raw")

    def __init__(self, raw: Any, dialect: str) -> None:
        self.raw = raw
        self.dialect = dialect


class Database:
    """Owns the engine; hands out read and write sessions."""

    def __init__(self, url: str, *, busy_timeout_ms: int = 30_000, echo: bool = False) -> None:
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        kwargs: dict[str, Any] = {"echo": echo}
        self._sqlite_path: str | None = None
        if self.is_sqlite:
            path = url.split("///", 1)[-1].split("?", 1)[0]
            if path and path != ":memory:":
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                self._sqlite_path = path
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": busy_timeout_ms / 1000}
            kwargs["pool_size"] = 16
            kwargs["max_overflow"] = 48
        else:
            # As many connections as the server's thread pool has threads (40),
            # so busy moments never open and close overflow connections.
            kwargs["pool_size"] = 40
            kwargs["max_overflow"] = 10
            kwargs["pool_pre_ping"] = False
        self.engine: Engine = create_engine(url, **kwargs)
        if self.is_sqlite:
            _configure_sqlite(self.engine, busy_timeout_ms)
        self._write_engine = self.engine.execution_options(sqlite_begin="IMMEDIATE")
        self._write_lock = threading.Lock() if self.is_sqlite else None
        self._hot: Any = None
        self._lock_fd: int | None = None
        if self.is_sqlite and self._sqlite_path and fcntl is not None:
            self._lock_fd = os.open(f"{self._sqlite_path}.writelock", os.O_RDWR | os.O_CREAT, 0o644)
        # Small per-process caches of the services (e.g. when leases were last swept).
        self.memo: dict[str, Any] = {}
        self._reader = sessionmaker(self.engine, expire_on_commit=False)
        self._writer = sessionmaker(self._write_engine, expire_on_commit=False)

    @contextlib.contextmanager
    def write(self) -> Iterator[Session]:
        """A session in one write transaction, committed on success.

        On SQLite, writers in this process take turns on a lock first: SQLite's
        own busy handler sleeps in steps of up to 100 ms, which would turn
        contention between threads into long stalls. Other processes still
        wait through the busy timeout.
        """
        if self._write_lock is None:
            with self._writer() as session, session.begin():
                yield session
            return
        with self._write_turn(), self._writer() as session, session.begin():
            yield session

    @contextlib.contextmanager
    def write_turn(self) -> Iterator[None]:
        """This process's turn to write, for a writer that brings its own connection (SQLite)."""
        if self._write_lock is None:
            yield
            return
        with self._write_turn():
            yield

    @contextlib.contextmanager
    def _write_turn(self) -> Iterator[None]:
        """Take the write turn: a thread lock, then an advisory lock file.

        The file lock serializes writers across processes (several server
        workers, a CLI import next to the server). The kernel wakes a waiter as
        soon as the lock is free, where SQLite's own busy handler would sleep in
        steps of up to 100 ms.
        """
        assert self._write_lock is not None
        with self._write_lock:
            if self._lock_fd is None:
                yield
                return
            fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def driver_write(self) -> Iterator[DriverConnection]:
        """The driver's own connection in one write transaction, for the hot paths.

        SQLite: one connection kept for this, used under the write lock (writes
        are serialized anyway), so no pool checkout and no SQLAlchemy events.
        PostgreSQL: a pooled connection, handed back after commit or rollback.
        """
        if self._write_lock is not None:
            with self._write_turn():
                if self._hot is None:
                    self._hot = self.engine.raw_connection()
                raw = self._hot.driver_connection
                raw.execute("BEGIN IMMEDIATE")
                try:
                    yield DriverConnection(raw, "sqlite")
                except BaseException:
                    raw.execute("ROLLBACK")
                    raise
                raw.execute("COMMIT")
            return
        pooled = self.engine.raw_connection()
        try:
            driver: Any = pooled.driver_connection
            try:
                yield DriverConnection(driver, self.engine.dialect.name)
            except BaseException:
                driver.rollback()
                raise
            driver.commit()
        finally:
            pooled.close()

    @contextlib.contextmanager
    def driver_autocommit(self) -> Iterator[DriverConnection]:
        """A pooled PostgreSQL driver connection in autocommit: each statement commits by itself.

        For hot paths whose writes are each one statement: no ``BEGIN`` and
        ``COMMIT`` round trips. SQLite has no use for it (use :meth:`driver_write`).
        """
        assert not self.is_sqlite, "driver_autocommit is for PostgreSQL"
        pooled = self.engine.raw_connection()
        try:
            driver: Any = pooled.driver_connection
            driver.autocommit = True
            try:
                yield DriverConnection(driver, self.engine.dialect.name)
            finally:
                if driver.closed:
                    pooled.invalidate()
                else:
                    driver.autocommit = False
        finally:
            pooled.close()

    @contextlib.contextmanager
    def driver_read(self) -> Iterator[DriverConnection]:
        """A pooled driver connection for long reads (exports); nothing is committed."""
        pooled = self.engine.raw_connection()
        try:
            yield DriverConnection(pooled.driver_connection, self.engine.dialect.name)
        finally:
            if not self.is_sqlite:
                driver: Any = pooled.driver_connection
                driver.rollback()
            pooled.close()

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        """A session for reading; nothing it does is committed."""
        with self._reader() as session:
            yield session

    def upgrade(self) -> None:
        """Bring the schema to the newest migration."""
        from hitloop.db.migrate import upgrade

        upgrade(self.engine)

    def dispose(self) -> None:
        if self._hot is not None:
            self._hot.close()
            self._hot = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
        self.engine.dispose()


def _configure_sqlite(engine: Engine, busy_timeout_ms: int) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Autocommit at the driver level: we issue BEGIN ourselves (below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute(f"PRAGMA busy_timeout={int(busy_timeout_ms)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA cache_size=-65536")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        mode = connection.get_execution_options().get("sqlite_begin", "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")
