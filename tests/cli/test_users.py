from __future__ import annotations

from hitloop.api.context import AppContext
from hitloop.services import auth
from tests.cli.conftest import Run


def test_create_and_list_users(run: Run, ctx: AppContext) -> None:
    created = run("users", "create", "alice", "--admin", "--password-stdin", input="alice-password\n")
    assert created.stdout == "Created administrator 'alice' (id 1)\n"
    run("users", "create", "bob", input="bob-password\nbob-password\n")  # asked twice, hidden
    assert auth.login(ctx.db, "bob", "bob-password").is_admin is False
    assert auth.login(ctx.db, "alice", "alice-password").is_admin is True

    listed = run("users", "list").stdout.splitlines()
    assert listed[0].split() == ["ID", "USERNAME", "ADMIN"]
    assert [line.split() for line in listed[1:]] == [["1", "alice", "yes"], ["2", "bob"]]


def test_duplicate_user(run: Run) -> None:
    run("users", "create", "alice", "--password-stdin", input="alice-password\n")
    result = run("users", "create", "alice", "--password-stdin", input="other-password\n", expect=2)
    assert result.stderr == "Error: field 'username': user 'alice' already exists\n"


def test_short_password_is_refused_without_echoing_it(run: Run) -> None:
    result = run("users", "create", "alice", "--password-stdin", input="hunter2\n", expect=2)
    assert result.stderr.startswith("Error: field 'password': ")
    assert "hunter2" not in result.output


def test_token_is_printed_once_and_works(run: Run, ctx: AppContext) -> None:
    run("users", "create", "alice", "--password-stdin", input="alice-password\n")
    result = run("tokens", "create", "--user", "alice", "--name", "ci")
    secret = result.stdout.strip()
    assert result.stdout == secret + "\n"  # nothing else on stdout, so $(hitloop tokens create ...) works
    assert "not shown again" in result.stderr
    user = auth.resolve_token(ctx.db, secret)
    assert user is not None and user.username == "alice"
    assert [t.name for t in auth.list_tokens(ctx.db, user.id)] == ["ci"]


def test_token_for_unknown_user(run: Run) -> None:
    result = run("tokens", "create", "--user", "nobody", expect=2)
    assert result.stderr == "Error: field 'user': no user named 'nobody'\n"
