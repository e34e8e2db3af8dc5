"""Who is looking at a page, and whether a form really came from our pages."""

from __future__ import annotations

import hmac
from urllib.parse import quote

from starlette.requests import Request

from hitloop.api.context import AppContext
from hitloop.api.deps import SESSION_COOKIE
from hitloop.errors import PermissionDeniedError
from hitloop.services import policy
from hitloop.services.auth import CurrentUser, resolve_session
from hitloop.services.policy import Action, ProjectAccess

__all__ = [
    "LoginRequiredError",
    "check_csrf",
    "form_access",
    "login_url",
    "page_user",
    "require_user",
    "safe_next",
]


class LoginRequiredError(Exception):
    """Raised by a page that needs a user; the page router redirects to the login form."""

    def __init__(self, next_url: str) -> None:
        super().__init__(next_url)
        self.next_url = next_url


def page_user(request: Request, ctx: AppContext) -> CurrentUser | None:
    """The user of the session cookie (pages accept no API tokens)."""
    secret = request.cookies.get(SESSION_COOKIE)
    return resolve_session(ctx.db, secret) if secret else None


def require_user(request: Request, ctx: AppContext) -> CurrentUser:
    user = page_user(request, ctx)
    if user is None:
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        raise LoginRequiredError(safe_next(target))
    return user


def check_csrf(user: CurrentUser, sent: str) -> None:
    """A form post must carry the session's CSRF token (another site cannot read it)."""
    if not user.csrf_token or not hmac.compare_digest(sent.encode(), user.csrf_token.encode()):
        raise PermissionDeniedError("this form expired or came from another site; reload the page and retry")


def form_access(
    request: Request, ctx: AppContext, project_id: int, csrf_token: str, action: Action
) -> ProjectAccess:
    """A project form's post: a signed-in user, the session's CSRF token, then the policy's decision."""
    user = require_user(request, ctx)
    check_csrf(user, csrf_token)
    return policy.project_access(ctx.db, user, project_id, action)


def safe_next(target: str | None) -> str:
    """Only same-site paths: never ``//host``, ``/\\host`` or ``scheme:``."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    if any(ch in target for ch in "\\\r\n\t") or len(target) > 2000:
        return "/"
    return target


def login_url(next_url: str) -> str:
    return "/login" if next_url == "/" else f"/login?next={quote(next_url, safe='/')}"
