"""``hitloop members invite``, ``invites`` and ``revoke-invite`` on the test database."""

from __future__ import annotations

import re

import pytest

from hitloop.api.context import AppContext
from hitloop.schemas import ProjectCreate
from hitloop.services import auth, invites, members, projects
from hitloop.types import Role
from tests.cli.conftest import Run


@pytest.fixture
def pid(ctx: AppContext) -> int:
    owner = auth.create_user(ctx.db, "olive", "olive-password")
    return projects.create_project(ctx.db, owner.id, ProjectCreate(name="p", labels=["a", "b"])).id


def test_invite_prints_a_working_link_once_then_list_and_revoke(run: Run, ctx: AppContext, pid: int) -> None:
    out = run(
        "members", "invite", pid, "--role", "reviewer", "--base-url", "https://label.example.org/"
    ).stdout
    first, link = out.splitlines()
    assert re.fullmatch(rf"Invite 1 to project {pid} as reviewer, until \S+ \S+ UTC \(shown once\):", first)
    match = re.fullmatch(r"https://label\.example\.org/invite/(hli_[\w-]+)", link)
    assert match is not None, link
    default = run("members", "invite", pid).stdout.splitlines()[1]
    assert default.startswith("http://127.0.0.1:8765/invite/hli_")
    listed = [line.split() for line in run("members", "invites", pid).stdout.splitlines()]
    assert listed[0][:2] == ["ID", "ROLE"]
    assert [row[:2] for row in listed[1:]] == [["1", "reviewer"], ["2", "annotator"]]
    assert match[1] not in run("members", "invites", pid).stdout
    done = invites.accept_invite(ctx.db, match[1], username="rae", password="rae-password")
    assert done.role is Role.REVIEWER
    assert {m.username for m in members.list_members(ctx.db, pid)} == {"olive", "rae"}
    assert run("members", "revoke-invite", pid, 2).stdout == f"Revoked invite 2 of project {pid}\n"
    assert run("members", "invites", pid).stdout.splitlines()[1:] == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("members", "invite", "99"), "Error: field 'project_id': project 99 not found\n"),
        (
            ("members", "invite", "{pid}", "--days", "0"),
            "Error: field 'days': an invite lasts more than 0 and at most 90 days\n",
        ),
        (("members", "revoke-invite", "{pid}", "7"), "Error: field 'invite_id': invite 7 not found\n"),
    ],
    ids=["unknown-project", "zero-days", "unknown-invite"],
)
def test_bad_input_is_a_precise_error_and_changes_nothing(
    run: Run, ctx: AppContext, pid: int, args: tuple[str, ...], message: str
) -> None:
    result = run(*[a.replace("{pid}", str(pid)) for a in args], expect=2)
    assert result.stderr == message
    assert invites.list_invites(ctx.db, pid) == []


def test_an_unknown_role_is_refused_by_the_option(run: Run, pid: int) -> None:
    result = run("members", "invite", pid, "--role", "boss", expect=2)
    assert "'boss' is not one of" in result.stderr
