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
from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Path, Request, Response

from hitloop.api.context import AppContext
from hitloop.errors import AuthenticationError, PermissionDeniedError
from hitloop.schemas import MAX_ID
from hitloop.services import auth as auth_service
from hitloop.services import policy
from hitloop.services.auth import CurrentUser, resolve_session, resolve_token, token_hash
from hitloop.services.policy import Action, ProjectAccess

__all__ = [
    "CACHE_KEY",
    "SESSION_COOKIE",
    "AnnotationReader",
    "Annotator",
    "AuditReader",
    "Ctx",
    "GoldManager",
    "IdPath",
    "ItemAdder",
    "ItemReader",
    "MemberManager",
    "MemberReader",
    "OptionalUser",
    "ProjectEditor",
    "ProjectReader",
    "Reviewer",
    "User",
    "client_address",
    "context",
    "current_user",
    "identify",
    "item_permission",
    "optional_user",
    "project_permission",
    "require_user",
    "set_session_cookie",
    "start_session",
]

SESSION_COOKIE = "hitloop_session"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})

# An object id in a path: a number past MAX_ID names no object and is refused with 422.
IdPath = Annotated[int, Path(ge=1, le=MAX_ID)]
_CACHE_S = 10.0
CACHE_KEY = "auth_cache"


# Dependencies are ``async def``: a plain ``def`` dependency costs a thread hop
# per request, and these only read memory (or, on a cache miss, one indexed row).
async def context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


Ctx = Annotated[AppContext, Depends(context)]


def _cached(ctx: AppContext, kind: str, secret: str) -> CurrentUser | None:
    # A tiny cache spares the database a lookup per request; a revoked token or
    # ended session stops working within _CACHE_S seconds (at once in this process).
    cache: dict[str, tuple[float, CurrentUser | None]] = ctx.db.memo.setdefault(CACHE_KEY, {})
    key = f"{kind}:{token_hash(secret)}"
    now = time.monotonic()
    hit = cache.get(key)
    if hit is not None and hit[0] > now:
        return hit[1]
    resolve = resolve_token if kind == "token" else resolve_session
    user = resolve(ctx.db, secret)
    if len(cache) > 10_000:
        cache.clear()
    cache[key] = (now + _CACHE_S, user)
    return user


def identify(request: Request) -> CurrentUser | None:
    """Who sent this request: a Bearer token, or a session cookie plus CSRF token on writes."""
    ctx: AppContext = request.app.state.ctx
    header = request.headers.get("authorization")
    if header:
        scheme, _, secret = header.partition(" ")
        if scheme.lower() != "bearer" or not secret:
            raise AuthenticationError("use 'Authorization: Bearer <token>'")
        user = _cached(ctx, "token", secret.strip())
        if user is None:
            raise AuthenticationError("invalid or revoked API token")
        return user
    cookie = request.cookies.get(SESSION_COOKIE)
    if not cookie:
        return None
    user = _cached(ctx, "session", cookie)
    if user is None:
        return None
    if request.method not in SAFE_METHODS:
        sent = request.headers.get("x-csrf-token", "")
        if not user.csrf_token or not hmac.compare_digest(sent, user.csrf_token):
            raise PermissionDeniedError("missing or wrong CSRF token (send the X-CSRF-Token header)")
    return user


def require_user(request: Request) -> CurrentUser:
    user = identify(request)
    if user is None:
        raise AuthenticationError("log in or send an API token")
    return user


# One level of dependency each: FastAPI's dependency solving costs per level.
async def optional_user(request: Request) -> CurrentUser | None:
    return identify(request)


async def current_user(request: Request) -> CurrentUser:
    return require_user(request)


User = Annotated[CurrentUser, Depends(current_user)]
OptionalUser = Annotated[CurrentUser | None, Depends(optional_user)]


async def admin_user(user: User) -> CurrentUser:
    if not user.is_admin:
        raise PermissionDeniedError("only an administrator may do this")
    return user


Admin = Annotated[CurrentUser, Depends(admin_user)]


# Project roles (hitloop.services.policy decides; these load the access and apply it).
# Plain ``def``: on a miss they read the database, which must not block the event loop.
def project_permission(action: Action) -> Callable[[int, Request], ProjectAccess]:
    """A dependency: the caller's access to ``{project_id}``, which must allow ``action``."""

    def dependency(project_id: IdPath, request: Request) -> ProjectAccess:
        ctx: AppContext = request.app.state.ctx
        return policy.project_access(ctx.db, require_user(request), project_id, action)

    dependency.__name__ = f"project_{action.name.lower()}"
    return dependency


def item_permission(action: Action) -> Callable[[int, Request], ProjectAccess]:
    """A dependency: access to ``{item_id}``'s project, if the caller may see that item."""

    def dependency(item_id: IdPath, request: Request) -> ProjectAccess:
        ctx: AppContext = request.app.state.ctx
        return policy.item_access(ctx.db, require_user(request), item_id, action)

    dependency.__name__ = f"item_{action.name.lower()}"
    return dependency


ProjectReader = Annotated[ProjectAccess, Depends(project_permission(Action.READ_PROJECT))]
ProjectEditor = Annotated[ProjectAccess, Depends(project_permission(Action.UPDATE_PROJECT))]
ItemAdder = Annotated[ProjectAccess, Depends(project_permission(Action.ADD_ITEMS))]
Annotator = Annotated[ProjectAccess, Depends(project_permission(Action.ANNOTATE))]
AnnotationReader = Annotated[ProjectAccess, Depends(project_permission(Action.READ_ANNOTATIONS))]
Reviewer = Annotated[ProjectAccess, Depends(project_permission(Action.REVIEW))]
MemberReader = Annotated[ProjectAccess, Depends(project_permission(Action.READ_MEMBERS))]
MemberManager = Annotated[ProjectAccess, Depends(project_permission(Action.MANAGE_MEMBERS))]
GoldManager = Annotated[ProjectAccess, Depends(project_permission(Action.MANAGE_GOLD))]
AuditReader = Annotated[ProjectAccess, Depends(project_permission(Action.READ_AUDIT))]
ItemReader = Annotated[ProjectAccess, Depends(item_permission(Action.READ_ITEMS))]


def client_address(request: Request) -> str | None:
    """The caller's address, for login throttling (behind a proxy, run uvicorn with --proxy-headers)."""
    return request.client.host if request.client else None


def start_session(request: Request, response: Response, ctx: AppContext, user_id: int) -> str:
    """Log a browser in with a brand-new session id and its cookie; returns the CSRF token.

    Whatever session cookie came with the login request is ended first, so a
    session id planted in a victim's browser (session fixation) never becomes
    a logged-in session.
    """
    old = request.cookies.get(SESSION_COOKIE)
    if old:
        _end_session(ctx, old)
    secret, csrf = auth_service.create_session(ctx.db, user_id, days=ctx.settings.session_days)
    set_session_cookie(response, ctx, secret)
    return csrf


def _end_session(ctx: AppContext, secret: str) -> None:
    auth_service.end_session(ctx.db, secret)
    ctx.db.memo.pop(CACHE_KEY, None)


def set_session_cookie(response: Response, ctx: AppContext, secret: str) -> None:
    """The session cookie, set alike by the JSON login and the login form."""
    response.set_cookie(
        SESSION_COOKIE,
        secret,
        max_age=ctx.settings.session_days * 86400,
        httponly=True,
        samesite="lax",
        secure=ctx.settings.secure_cookies,
        path="/",
    )
