"""Who is looking at a page, and whether a form really came from our pages."""

from __future__ import annotations

import hmac
import re
import secrets
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

from hitloop.api.context import AppContext
from hitloop.api.deps import SESSION_COOKIE
from hitloop.errors import PermissionDeniedError
from hitloop.services import policy
from hitloop.services.auth import CurrentUser, resolve_session
from hitloop.services.policy import Action, ProjectAccess

__all__ = [
    "PRESESSION_COOKIE",
    "LoginRequiredError",
    "check_csrf",
    "check_presession",
    "form_access",
    "login_url",
    "page_user",
    "presession_token",
    "require_user",
    "safe_next",
    "set_presession_cookie",
]

# The forms that come before a session (log in, sign up by invite) carry this cookie's value.
PRESESSION_COOKIE = "hitloop_presession"
_TOKEN_SHAPE = re.compile(r"[A-Za-z0-9_-]{43}")  # secrets.token_urlsafe(32)
_FOREIGN = "this form expired or came from another site; reload the page and retry"


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
        raise PermissionDeniedError(_FOREIGN)


def presession_token(request: Request) -> str:
    """The token a pre-session form carries: the browser's, or a new one (see set_presession_cookie).

    Reusing the browser's keeps a login form open in two tabs working.
    """
    sent = request.cookies.get(PRESESSION_COOKIE, "")
    return sent if _TOKEN_SHAPE.fullmatch(sent) else secrets.token_urlsafe(32)


def set_presession_cookie(request: Request, response: Response, ctx: AppContext, token: str) -> None:
    """Give the browser the pre-session cookie, unless it has it already."""
    if request.cookies.get(PRESESSION_COOKIE) == token:
        return
    response.set_cookie(
        PRESESSION_COOKIE,
        token,
        httponly=True,
        samesite="lax",  # never sent with another site's POST
        secure=ctx.settings.secure_cookies,
        path="/",
    )


def check_presession(request: Request, sent: str) -> None:
    """A form posted before there is a session (login CSRF): same-origin, and the cookie's token.

    Another site can neither read the cookie nor make the browser send it with
    its POST (SameSite=Lax). Browsers say where a request came from in
    Sec-Fetch-Site; a sibling subdomain ("same-site") could plant the cookie,
    so only "same-origin" and "none" (typed or bookmarked) pass.
    """
    fetch_site = request.headers.get("sec-fetch-site")
    if fetch_site is not None and fetch_site not in ("same-origin", "none"):
        raise PermissionDeniedError(_FOREIGN)
    cookie = request.cookies.get(PRESESSION_COOKIE, "")
    if not cookie or not hmac.compare_digest(sent.encode(), cookie.encode()):
        raise PermissionDeniedError(_FOREIGN)


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
