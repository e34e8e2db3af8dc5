"""Request dependencies: the context and the authenticated user.

API clients send ``Authorization: Bearer <token>``. Browsers send the session
cookie, and every unsafe request from a browser must also carry the session's
CSRF token in the ``X-CSRF-Token`` header (or a ``csrf_token`` form field,
checked by the page routes), so another site cannot make a logged-in browser
write.
"""

from __future__ import annotations

import hmac
import time
from typing import Annotated

from fastapi import Depends, Request

from hitloop.api.context import AppContext
from hitloop.errors import AuthenticationError, PermissionDeniedError
from hitloop.services.auth import CurrentUser, resolve_session, resolve_token, token_hash

__all__ = ["SESSION_COOKIE", "Ctx", "User", "context", "current_user", "optional_user"]

SESSION_COOKIE = "hitloop_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_TOKEN_CACHE_S = 2.0


def context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


Ctx = Annotated[AppContext, Depends(context)]


def _from_token(ctx: AppContext, secret: str) -> CurrentUser | None:
    # A tiny cache spares the database a lookup per request; revocation takes
    # effect within _TOKEN_CACHE_S seconds.
    cache: dict[str, tuple[float, CurrentUser | None]] = ctx.db.memo.setdefault("token_cache", {})
    key = token_hash(secret)
    now = time.monotonic()
    hit = cache.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    user = resolve_token(ctx.db, secret)
    if len(cache) > 10_000:
        cache.clear()
    cache[key] = (now + _TOKEN_CACHE_S, user)
    return user


def optional_user(request: Request, ctx: Ctx) -> CurrentUser | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret:
            raise AuthenticationError("use 'Authorization: Bearer <token>'")
        user = _from_token(ctx, secret.strip())
        if user is None:
            raise AuthenticationError("invalid or revoked API token")
        return user
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    user = resolve_session(ctx.db, cookie)
    if user is None:
        return None
    if request.method not in SAFE_METHODS:
        sent = request.headers.get("x-csrf-token", "")
        if not user.csrf_token or not hmac.compare_digest(sent, user.csrf_token):
            raise PermissionDeniedError("missing or wrong CSRF token (send the X-CSRF-Token header)")
    return user


def current_user(user: Annotated[CurrentUser | None, Depends(optional_user)]) -> CurrentUser:
    if user is None:
        raise AuthenticationError("log in or send an API token")
    return user


User = Annotated[CurrentUser, Depends(current_user)]


def admin_user(user: User) -> CurrentUser:
    if not user.is_admin:
        raise PermissionDeniedError("only an administrator may do this")
    return user


Admin = Annotated[CurrentUser, Depends(admin_user)]
