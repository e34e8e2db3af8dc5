"""Fixtures of the page and browser tests."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest

from hitloop.services.auth import CurrentUser

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


def log_in(client: Any, username: str, password: str, next_url: str = "/") -> Any:
    return client.post(
        "/login",
        data={"username": username, "password": password, "next": next_url},
        follow_redirects=False,
    )


@pytest.fixture
def web(client: Any, admin: CurrentUser) -> WebSession:
    response = log_in(client, admin.username, ADMIN_PASSWORD)
    assert response.status_code == 303, response.text
    csrf = client.get("/api/me").json()["csrf_token"]
    return WebSession(client=client, user=admin, csrf=csrf)
