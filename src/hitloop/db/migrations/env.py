"""Alembic environment: uses the engine handed over by hitloop.db.migrate."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from hitloop.db.tables import Base

config = context.config
engine = config.attributes.get("engine") or create_engine(config.get_main_option("sqlalchemy.url") or "")


def include_object(obj: object, name: str | None, type_: str, reflected: bool, compare_to: object) -> bool:
    # Autogenerate cannot compare an index with an expression (priority DESC); the
    # queue's plan is checked by tests/db/test_queue_plan.py instead.
    return not (type_ == "index" and name == "ix_items_queue")


with engine.connect() as connection:
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()
