"""``hitloop db``: the database schema."""

from __future__ import annotations

import click
from sqlalchemy.exc import OperationalError

from hitloop.cli.options import open_context, safe_url, settings_options
from hitloop.db.engine import Database
from hitloop.errors import HitloopError
from hitloop.settings import Settings

__all__ = ["db"]


@click.group()
def db() -> None:
    """Inspect and upgrade the database schema."""


def _revisions(database: Database) -> tuple[str | None, str | None]:
    """(the database's schema revision, the newest revision this hitloop ships)."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    from hitloop.db.migrate import alembic_config

    try:
        with database.engine.connect() as connection:
            current = MigrationContext.configure(connection).get_current_revision()
    except OperationalError as exc:
        raise HitloopError(f"cannot open the database {safe_url(database.url)}: {exc.orig}") from None
    return current, ScriptDirectory.from_config(alembic_config()).get_current_head()


@db.command("upgrade")
@settings_options
def upgrade(settings: Settings) -> None:
    """Bring the schema up to the newest revision (safe to run any time).

    Every command that uses the database does this first; run it alone before
    starting several servers on one database.
    """
    with open_context(settings) as ctx:
        current, _ = _revisions(ctx.db)
    click.echo(f"Database {safe_url(ctx.db.url)} is at the newest revision ({current})")


@db.command("current")
@settings_options
def current(settings: Settings) -> None:
    """Show the schema revision of the database (without changing it)."""
    database = Database(settings.resolved_database_url(), busy_timeout_ms=settings.sqlite_busy_timeout_ms)
    try:
        revision, head = _revisions(database)
    finally:
        database.dispose()
    if revision is None:
        click.echo(f"none (the database is empty; the newest revision is {head}: run hitloop db upgrade)")
    elif revision == head:
        click.echo(f"{revision} (newest)")
    else:
        click.echo(f"{revision} (the newest revision is {head}: run hitloop db upgrade)")
