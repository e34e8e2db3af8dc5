"""Options every database command shares, and opening the database for a command."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from pydantic import ValidationError
from sqlalchemy.exc import OperationalError

from hitloop.cli.errors import input_error
from hitloop.errors import HitloopError
from hitloop.settings import Settings, get_settings

if TYPE_CHECKING:
    from hitloop.api.context import AppContext

__all__ = ["build_settings", "open_context", "quiet_option", "safe_url", "settings_options"]

F = TypeVar("F", bound=Callable[..., Any])


def build_settings(data_dir: Path | None = None, database_url: str | None = None) -> Settings:
    """Settings from ``HITLOOP_*`` environment variables, with the command-line options on top."""
    overrides: dict[str, object] = {}
    if data_dir is not None:
        overrides["data_dir"] = data_dir
    if database_url:
        overrides["database_url"] = database_url
    try:
        return get_settings(**overrides)
    except ValidationError as exc:
        raise input_error(exc, env_prefix="HITLOOP_") from None


def settings_options(func: F) -> F:
    """Add ``--data-dir`` and ``--database-url``; the command receives ``settings``.

    Put it right above the function, so these options come last in the help.
    """

    @click.option(
        "--data-dir",
        type=click.Path(file_okay=False, path_type=Path),
        default=None,
        help="Directory for the database, media and models [default: HITLOOP_DATA_DIR, else .hitloop].",
    )
    @click.option(
        "--database-url",
        metavar="URL",
        default=None,
        help="SQLAlchemy database URL [default: HITLOOP_DATABASE_URL, else hitloop.db in the data dir].",
    )
    @functools.wraps(func)
    def wrapper(*args: Any, data_dir: Path | None, database_url: str | None, **kwargs: Any) -> Any:
        return func(*args, settings=build_settings(data_dir, database_url), **kwargs)

    return wrapper  # type: ignore[return-value]


def quiet_option(func: F) -> F:
    return click.option("--quiet", "-q", is_flag=True, help="Show no progress bar.")(func)


@contextlib.contextmanager
def open_context(settings: Settings) -> Iterator[AppContext]:
    """Open the database, bring its schema up to date, and close it afterwards."""
    # Imported here: hitloop.api pulls in FastAPI, which `hitloop --help` should not wait for.
    from hitloop.api.context import AppContext

    url = settings.resolved_database_url()
    try:
        ctx = AppContext.from_settings(settings)
    except OSError as exc:  # e.g. the data directory cannot be created
        raise HitloopError(f"cannot open the database {safe_url(url)}: {exc}") from None
    try:
        try:
            ctx.db.upgrade()
        except OperationalError as exc:
            raise HitloopError(f"cannot open the database {safe_url(url)}: {exc.orig}") from None
        yield ctx
    finally:
        ctx.db.dispose()


def safe_url(url: str) -> str:
    """The database URL without its password, for messages."""
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)
