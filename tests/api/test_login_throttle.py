"""Login throttling (per username and per client address) and a new session on every login."""

from __future__ import annotations

from typing import Any

import pytest

from hitloop.errors import RateLimitedError
from hitloop.services import auth, throttle
from hitloop.services.auth import CurrentUser
from tests.web.conftest import log_in

PASSWORD = "admin-password"  # the root conftest's admin


def _login(client: Any, username: str, password: str, **kw: Any) -> Any:
    return client.post("/api/login", json={"username": username, "password": password}, **kw)


def test_repeated_failures_lock_the_username_with_429_and_retry_after(
    client: Any, admin: CurrentUser
) -> None:
    for _ in range(throttle.MAX_USER_FAILURES):
        assert _login(client, "admin", "wrong-password").status_code == 401
    r = _login(client, "admin", PASSWORD)  # even the right password waits now
    assert r.status_code == 429
    assert r.json()["error"]["code"] == "rate_limited"
    assert 0 < int(r.headers["Retry-After"]) <= throttle.LOCKOUT_S
    assert "try again in 15 minute(s)" in r.json()["error"]["message"]
    # Another account from the same address is not locked by this one.
    auth.create_user(client.app.state.ctx.db, "other", "other-password")
    assert _login(client, "other", "other-password").status_code == 200


def test_the_login_form_is_throttled_too(client: Any, admin: CurrentUser) -> None:
    for _ in range(throttle.MAX_USER_FAILURES):
        assert log_in(client, "admin", "nope").status_code == 401
    r = log_in(client, "admin", PASSWORD)
    assert r.status_code == 429 and "too many failed logins" in r.text


def test_an_address_guessing_many_usernames_is_locked(ctx: Any) -> None:
    names = throttle.keys
    for i in range(throttle.MAX_ADDRESS_FAILURES):
        with pytest.raises(Exception, match="wrong username or password"):
            auth.login(ctx.db, f"nobody{i}", "guess-guess", address="203.0.113.9")
    with pytest.raises(RateLimitedError):
        auth.login(ctx.db, "someone-new", "guess-guess", address="203.0.113.9")
    throttle.check(ctx.db, names("someone-new", "198.51.100.1"))  # another address is fine


def test_failures_are_forgotten_after_the_window_and_a_success_clears_them(
    ctx: Any, admin: CurrentUser
) -> None:
    keys = throttle.keys("admin", None)
    for _ in range(throttle.MAX_USER_FAILURES - 1):
        throttle.failed(ctx.db, keys, now=1000.0)
    throttle.failed(ctx.db, keys, now=1000.0 + throttle.WINDOW_S + 1)  # a new window: count 1
    throttle.check(ctx.db, keys, now=1000.0 + throttle.WINDOW_S + 2)
    for _ in range(throttle.MAX_USER_FAILURES - 2):
        throttle.failed(ctx.db, keys)
    auth.login(ctx.db, "admin", PASSWORD)  # clears the username's count
    throttle.failed(ctx.db, keys)
    throttle.check(ctx.db, keys)


def test_login_ends_the_session_the_browser_came_with(client: Any, admin: CurrentUser) -> None:
    first = _login(client, "admin", PASSWORD).cookies["hitloop_session"]
    client.cookies.clear()
    second = _login(client, "admin", PASSWORD, headers={"Cookie": f"hitloop_session={first}"})
    new = second.cookies["hitloop_session"]
    assert new != first
    client.cookies.clear()
    assert client.get("/api/me", headers={"Cookie": f"hitloop_session={first}"}).status_code == 401
    assert client.get("/api/me", headers={"Cookie": f"hitloop_session={new}"}).status_code == 200
