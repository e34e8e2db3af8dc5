"""``hitloop users`` and ``hitloop tokens``: accounts and API tokens."""

from __future__ import annotations

import click
from pydantic import ValidationError

from hitloop.cli.errors import input_error
from hitloop.cli.options import open_context, settings_options
from hitloop.cli.render import table
from hitloop.errors import NotFoundError
from hitloop.schemas import TokenCreate, UserCreate
from hitloop.services import auth
from hitloop.settings import Settings

__all__ = ["tokens", "users"]


@click.group()
def users() -> None:
    """Create and list user accounts."""


@users.command("create")
@click.argument("username")
@click.option("--admin", is_flag=True, help="Make the user an administrator.")
@click.option(
    "--password-stdin",
    is_flag=True,
    help="Read the password from the first line of standard input instead of prompting.",
)
@settings_options
def create_user(username: str, admin: bool, password_stdin: bool, settings: Settings) -> None:
    """Create a user. The password is asked for twice, hidden, unless --password-stdin is given."""
    if password_stdin:
        password = click.open_file("-", "r").readline().rstrip("\r\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        spec = UserCreate(username=username, password=password, is_admin=admin)
    except ValidationError as exc:
        raise input_error(exc) from None
    with open_context(settings) as ctx:
        user = auth.create_user(ctx.db, spec.username, spec.password, is_admin=spec.is_admin)
    role = "administrator" if user.is_admin else "user"
    click.echo(f"Created {role} {user.username!r} (id {user.id})")


@users.command("list")
@settings_options
def list_users(settings: Settings) -> None:
    """List every user."""
    with open_context(settings) as ctx:
        rows = [(u.id, u.username, "yes" if u.is_admin else "") for u in auth.list_users(ctx.db)]
    click.echo(table(["ID", "USERNAME", "ADMIN"], rows, right=[0]))


@click.group()
def tokens() -> None:
    """Create API tokens (for the Python client and scripts)."""


@tokens.command("create")
@click.option("--user", "username", required=True, help="The user the token acts as.")
@click.option("--name", default="token", show_default=True, help="A name to recognize the token by.")
@settings_options
def create_token(username: str, name: str, settings: Settings) -> None:
    """Create an API token and print its secret (to stdout, alone, this once only)."""
    try:
        spec = TokenCreate(name=name)
    except ValidationError as exc:
        raise input_error(exc) from None
    with open_context(settings) as ctx:
        # Users are few; one list beats a lookup service for the command line alone.
        user = next((u for u in auth.list_users(ctx.db) if u.username == username), None)
        if user is None:
            raise NotFoundError(f"no user named {username!r}", field="user")
        row, secret = auth.create_token(ctx.db, user.id, spec.name)
    click.echo(secret)
    click.echo(
        f"Created token {row.name!r} (id {row.id}) for {user.username!r}. "
        "Store it now: it is not shown again.",
        err=True,
    )
