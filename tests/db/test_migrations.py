"""The shipped migrations build exactly the tables the code declares, and undo cleanly."""

from __future__ import annotations

from alembic import command
from sqlalchemy import inspect

from hitloop.db.engine import Database
from hitloop.db.migrate import alembic_config
from hitloop.db.tables import Base


def test_migrations_match_the_models_and_downgrade(db: Database) -> None:
    command.check(alembic_config(db.engine))  # raises if the models drifted from the migrations
    assert set(Base.metadata.tables) <= set(inspect(db.engine).get_table_names())
    command.downgrade(alembic_config(db.engine), "base")
    assert set(Base.metadata.tables).isdisjoint(inspect(db.engine).get_table_names())
    db.upgrade()
    assert set(Base.metadata.tables) <= set(inspect(db.engine).get_table_names())


def test_sqlite_runs_in_wal_mode(tmp_path) -> None:  # type: ignore[no-untyped-def]
    db = Database(f"sqlite:///{tmp_path / 'x.db'}", busy_timeout_ms=1234)
    with db.engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 1234
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    db.dispose()
