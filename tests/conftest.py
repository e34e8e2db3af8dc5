"""Shared fixtures.

Database tests run on SQLite always, and on PostgreSQL too when
``HITLOOP_TEST_DATABASE_URL`` is set (``.ci/run`` sets it). Each test session
gets its own PostgreSQL schema, so concurrent runs do not collide.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from hitloop.api.context import AppContext
from hitloop.db.engine import Database
from hitloop.db.tables import Base
from hitloop.media.store import MediaStore
from hitloop.services import passwords
from hitloop.settings import Settings

PG_URL = os.environ.get("HITLOOP_TEST_DATABASE_URL")
BACKENDS = ["sqlite"] + (["postgresql"] if PG_URL else [])


@pytest.fixture(autouse=True, scope="session")
def cheap_password_hashes() -> Iterator[None]:
    """The suite hashes thousands of throwaway passwords: at passwords.TEST_COST, not the OWASP cost.

    The one switch between the two; tests/services/test_passwords.py hashes and
    logs in at the real cost through ``production_password_cost``.
    """
    previous = passwords.use_cost(passwords.TEST_COST)
    yield
    passwords.use_cost(previous)


@pytest.fixture
def production_password_cost() -> Iterator[passwords.ScryptCost]:
    """New hashes at the production cost (passwords.DEFAULT_COST) for this test."""
    previous = passwords.use_cost(passwords.DEFAULT_COST)
    yield passwords.DEFAULT_COST
    passwords.use_cost(previous)


@contextmanager
def _fresh_pg_schema(base_url: str) -> Iterator[str]:
    """A migrated PostgreSQL schema of its own, dropped afterwards; yields a URL whose search_path is it."""
    schema = f"hl_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(base_url)
    with admin.begin() as conn:
        conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    try:
        sep = "&" if "?" in base_url else "?"
        url = f"{base_url}{sep}options=-csearch_path%3D{schema}"
        migrated = Database(url)
        migrated.upgrade()
        migrated.dispose()
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(scope="session")
def pg_schema_url() -> Iterator[str | None]:
    """A PostgreSQL URL whose search_path is a fresh schema for this session."""
    if not PG_URL:
        yield None
        return
    with _fresh_pg_schema(PG_URL) as url:
        yield url


@pytest.fixture(params=BACKENDS)
def own_database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated database of this test's own, on each backend: for tests that run a server
    process against it (which may leave it in any state). PostgreSQL: a fresh schema, dropped after.
    """
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'data' / 'hitloop.db'}"
        migrated = Database(url)
        migrated.upgrade()
        migrated.dispose()
        yield url
        return
    assert PG_URL is not None
    with _fresh_pg_schema(PG_URL) as url:
        yield url


def _truncate(db: Database) -> None:
    names = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path, pg_schema_url: str | None) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'hitloop.db'}"
    assert pg_schema_url is not None
    return pg_schema_url


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(data_dir=tmp_path / "data", database_url=database_url)


@pytest.fixture
def db(settings: Settings) -> Iterator[Database]:
    database = Database(settings.resolved_database_url())
    if not database.is_sqlite:
        _truncate(database)
    database.upgrade()
    yield database
    database.dispose()


@pytest.fixture
def media(settings: Settings) -> MediaStore:
    return MediaStore(settings.media_dir)


@pytest.fixture
def ctx(settings: Settings, db: Database, media: MediaStore) -> AppContext:
    return AppContext(settings=settings, db=db, media=media)


@pytest.fixture
def app(ctx: AppContext):  # type: ignore[no-untyped-def]
    from hitloop.api import create_app

    return create_app(context=ctx)


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    """An in-process HTTP client (no auth)."""
    from fastapi.testclient import TestClient

    with TestClient(app) as c:
        yield c


@pytest.fixture
def admin(ctx: AppContext):  # type: ignore[no-untyped-def]
    from hitloop.services import auth

    return auth.create_user(ctx.db, "admin", "admin-password", is_admin=True)


@pytest.fixture
def token(ctx: AppContext, admin) -> str:  # type: ignore[no-untyped-def]
    from hitloop.services import auth

    return auth.create_token(ctx.db, admin.id, "test")[1]


@pytest.fixture
def auth_headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def api(client, auth_headers):  # type: ignore[no-untyped-def]
    """The in-process client, authenticated as an administrator."""
    client.headers.update(auth_headers)
    return client
