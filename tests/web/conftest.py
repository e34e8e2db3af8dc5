"""Fixtures of the page and browser tests."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest

from hitloop.services.auth import CurrentUser
from hitloop.web.session import PRESESSION_COOKIE

ADMIN_PASSWORD = "admin-password"  # the root conftest's ``admin`` fixture


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    # Debian's Chromium; `playwright install` is never run (see NOTES.md).
    return {
        **browser_type_launch_args,
        "executable_path": "/usr/bin/chromium",
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    }


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "viewport": {"width": 1280, "height": 800}}


@dataclass
class WebSession:
    """An in-process client logged in through the form, like a browser."""

    client: Any
    user: CurrentUser
    csrf: str


def form_token(client: Any, path: str = "/login") -> str:
    """Open a pre-session form (login, an invite's sign-up) as a browser would: its cookie is set
    on ``client``, and the token its form carries is returned, to post with the form.

    Logged in already, /login redirects: the token is then the one of the form opened before
    (its cookie lasts the browser session), as when a login form is still open in another tab.
    """
    page = client.get(path, follow_redirects=False)
    if page.status_code == 303 and client.cookies.get(PRESESSION_COOKIE):
        return str(client.cookies[PRESESSION_COOKIE])
    assert page.status_code == 200, (path, page.status_code)
    found = re.search(r'<input type="hidden" name="csrf_token" value="([\w-]+)">', page.text)
    assert found, f"no form token on {path}"
    return found.group(1)


def log_in(client: Any, username: str, password: str, next_url: str = "/") -> Any:
    """Post the login form, opened first like in a browser (web.session.check_presession)."""
    return client.post(
        "/login",
        data={"csrf_token": form_token(client), "username": username, "password": password, "next": next_url},
        follow_redirects=False,
    )


@pytest.fixture
def web(client: Any, admin: CurrentUser) -> WebSession:
    response = log_in(client, admin.username, ADMIN_PASSWORD)
    assert response.status_code == 303, response.text
    csrf = client.get("/api/me").json()["csrf_token"]
    return WebSession(client=client, user=admin, csrf=csrf)
