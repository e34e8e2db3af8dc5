"""Log in and out, who am I, users, API tokens, and accepting an invite."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from hitloop.api.deps import (
    CACHE_KEY,
    SESSION_COOKIE,
    Admin,
    Ctx,
    IdPath,
    OptionalUser,
    User,
    client_address,
    start_session,
)
from hitloop.api.errors import ERROR_RESPONSES
from hitloop.errors import InputError
from hitloop.schemas import (
    InviteAccept,
    InviteAccepted,
    LoginRequest,
    Me,
    TokenCreate,
    TokenOut,
    UserCreate,
    UserOut,
)
from hitloop.services import auth, invites

router = APIRouter(prefix="/api", tags=["auth"], responses=ERROR_RESPONSES)


def _user_out(user: auth.CurrentUser) -> UserOut:
    return UserOut(id=user.id, username=user.username, is_admin=user.is_admin)


@router.post("/login", response_model=Me)
def login(body: LoginRequest, ctx: Ctx, request: Request, response: Response) -> Me:
    """Start a session; repeated failures answer 429 with Retry-After (per username and address)."""
    user = auth.login(ctx.db, body.username, body.password, address=client_address(request))
    csrf = start_session(request, response, ctx, user.id)
    return Me(user=_user_out(user), csrf_token=csrf)


@router.post("/logout", status_code=204)
def logout(request: Request, ctx: Ctx, _user: User) -> Response:
    cookie = request.cookies.get(SESSION_COOKIE)
    if cookie:
        auth.end_session(ctx.db, cookie)
        ctx.db.memo.pop(CACHE_KEY, None)
    response = Response(status_code=204)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/me", response_model=Me)
def me(user: User) -> Me:
    return Me(user=_user_out(user), csrf_token=user.csrf_token)


@router.get("/users", response_model=list[UserOut])
def list_users(ctx: Ctx, _admin: Admin) -> list[UserOut]:
    return [_user_out(u) for u in auth.list_users(ctx.db)]


@router.post("/users", response_model=UserOut, status_code=201)
def create_user(body: UserCreate, ctx: Ctx, _admin: Admin) -> UserOut:
    return _user_out(auth.create_user(ctx.db, body.username, body.password, is_admin=body.is_admin))


@router.get("/tokens", response_model=list[TokenOut])
def list_tokens(ctx: Ctx, user: User) -> list[TokenOut]:
    return [
        TokenOut(id=t.id, name=t.name, created_at=t.created_at) for t in auth.list_tokens(ctx.db, user.id)
    ]


@router.post("/tokens", response_model=TokenOut, status_code=201)
def create_token(body: TokenCreate, ctx: Ctx, user: User) -> TokenOut:
    row, secret = auth.create_token(ctx.db, user.id, body.name)
    return TokenOut(id=row.id, name=row.name, created_at=row.created_at, token=secret)


@router.delete("/tokens/{token_id}", status_code=204)
def revoke_token(token_id: IdPath, ctx: Ctx, user: User) -> Response:
    auth.revoke_token(ctx.db, user.id, token_id)
    ctx.db.memo.pop(CACHE_KEY, None)
    return Response(status_code=204)


@router.post("/invites/accept", response_model=InviteAccepted)
def accept_invite(
    body: InviteAccept, ctx: Ctx, request: Request, response: Response, user: OptionalUser
) -> InviteAccepted:
    """Join a project by an invite's token: as the caller, or (anonymous) as a new account.

    A new account is logged in with a fresh session cookie. Unknown tokens are
    throttled per address like logins (429 with Retry-After); expired, used or
    revoked invites answer 409 and change nothing.
    """
    if user is not None and (body.username or body.password):
        raise InputError("you are logged in: accept without a username and password", field="username")
    done = invites.accept_invite(
        ctx.db,
        body.token,
        user=user,
        username=body.username,
        password=body.password,
        address=client_address(request),
    )
    csrf = start_session(request, response, ctx, done.user.id) if done.created_account else None
    return InviteAccepted(
        project_id=done.project_id,
        role=done.role,
        user=_user_out(done.user),
        created_account=done.created_account,
        csrf_token=csrf,
    )
