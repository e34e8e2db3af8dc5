"""Fixtures shared by the browser test modules (a real Chromium against a real uvicorn server).

Bind them in a browser test module; pytest uses the fixtures found in the module's namespace::

    from tests.web import browser

    pytestmark = browser.MARKS
    database_url = browser.database_url
    server = browser.server
    no_script_errors = browser.no_script_errors

They are not in tests/web/conftest.py on purpose: there they would make every web test
SQLite-only (the page tests run on PostgreSQL too) and open a browser page for each.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Page

from tests.servers import running_server

MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="needs /usr/bin/chromium"),
]


@pytest.fixture
def database_url(tmp_path: Path) -> str:
    # Browser tests run on SQLite only: the backends are covered by the API and page tests.
    return f"sqlite:///{tmp_path / 'hitloop.db'}"


@pytest.fixture
def server(app: Any) -> Iterator[str]:
    with running_server(app) as url:
        yield url


@pytest.fixture(autouse=True)
def no_script_errors(page: Page) -> Iterator[None]:
    """Fail the test if a script on the page threw."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    yield
    assert errors == []
