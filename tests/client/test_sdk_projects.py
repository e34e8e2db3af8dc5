"""Account and project calls, and errors arriving as the same classes the server raised."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from hitloop.client import Client
from hitloop.errors import AuthenticationError, ConflictError, HitloopError, InputError, NotFoundError
from hitloop.schemas import ProjectOut
from hitloop.types import Modality, TaskType


def test_health_needs_no_token(transport) -> None:  # type: ignore[no-untyped-def]
    with Client("http://testserver", transport=transport) as anonymous:
        assert anonymous.health().status == "ok"


def test_me_is_the_token_owner(sdk: Client) -> None:
    me = sdk.me()
    assert (me.username, me.is_admin) == ("admin", True)


def test_token_defaults_to_environment(transport, token: str, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setenv("HITLOOP_TOKEN", token)
    with Client("http://testserver", transport=transport) as c:
        assert c.me().username == "admin"


def test_created_token_works(sdk: Client, transport) -> None:  # type: ignore[no-untyped-def]
    created = sdk.create_token("laptop")
    assert created.name == "laptop" and created.token
    with Client("http://testserver", created.token, transport=transport) as c:
        assert c.me().username == "admin"


def test_create_list_and_get_project(sdk: Client) -> None:
    made = sdk.create_project(
        "Topics", ["sport", "tech"], task="multilabel", modality=Modality.TEXT, instructions="Pick all."
    )
    assert isinstance(made, ProjectOut)
    assert (made.name, made.task, made.modality, made.labels) == (
        "Topics",
        TaskType.MULTILABEL,
        Modality.TEXT,
        ["sport", "tech"],
    )
    assert [p.id for p in sdk.projects()] == [made.id]
    got = sdk.project(made.id)
    assert got.instructions == "Pick all."
    assert got.stats is not None and got.stats.total == 0


def test_repr_hides_the_token(sdk: Client, token: str) -> None:
    assert token not in repr(sdk)


Call = Callable[[Client, ProjectOut], Any]

ERROR_CASES: list[tuple[str, Call, type[HitloopError], str | None]] = [
    ("unknown project", lambda c, p: c.project(999), NotFoundError, None),
    ("unknown item", lambda c, p: c.submit(999, label="pos"), NotFoundError, "item_id"),
    ("next in unknown project", lambda c, p: c.next(999), NotFoundError, "project_id"),
    ("export unknown project", lambda c, p: c.export(999, path="/nonexistent/x.jsonl"), NotFoundError, None),
    ("bad labels", lambda c, p: c.create_project("X", []), InputError, "labels"),
    ("labels as a string", lambda c, p: c.create_project("X", "pos"), InputError, "labels"),
    ("unknown task", lambda c, p: c.create_project("X", ["a"], task="rank"), InputError, "task"),
    ("duplicate label", lambda c, p: c.create_project("X", ["a", "a"]), InputError, "labels[1]"),
    ("count too big", lambda c, p: c.next(p.id, count=51), InputError, "count"),
    ("bad export format", lambda c, p: c.export(p.id, format="xml", path="x"), InputError, "format"),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(
    ("call", "cls", "field"), [c[1:] for c in ERROR_CASES], ids=[c[0] for c in ERROR_CASES]
)
def test_errors_keep_their_class_and_field(
    sdk: Client, project: ProjectOut, call: Call, cls: type[HitloopError], field: str | None
) -> None:
    with pytest.raises(HitloopError) as info:
        call(sdk, project)
    assert type(info.value) is cls
    if field is not None:
        assert info.value.field == field


def test_unknown_label_is_an_input_error_with_field(sdk: Client, project: ProjectOut) -> None:
    [item_id] = sdk.add_items(project.id, ["fine"])
    with pytest.raises(InputError) as info:
        sdk.submit(item_id, label="nope")
    assert info.value.field == "value.label"
    assert "nope" in info.value.message


def test_same_error_in_process_and_over_http(sdk: Client, ctx) -> None:  # type: ignore[no-untyped-def]
    from hitloop.services import projects

    with pytest.raises(NotFoundError) as local:
        projects.get_project(ctx.db, 999)
    with pytest.raises(NotFoundError) as remote:
        sdk.project(999)
    assert remote.value.to_payload() == local.value.to_payload()


def test_bad_token_is_an_authentication_error(transport) -> None:  # type: ignore[no-untyped-def]
    with (
        Client("http://testserver", "not-a-token", transport=transport) as c,
        pytest.raises(AuthenticationError),
    ):
        c.me()


def test_no_token_is_an_authentication_error(transport, monkeypatch: pytest.MonkeyPatch) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.delenv("HITLOOP_TOKEN", raising=False)
    with Client("http://testserver", transport=transport) as c, pytest.raises(AuthenticationError) as exc:
        c.projects()
    # The error says how to give the client a token; a wrong token is not told that.
    assert (
        str(exc.value)
        == exc.value.message
        == (
            "log in or send an API token (this client has none: pass Client(token=...) or set"
            " HITLOOP_TOKEN; `hitloop tokens create --user NAME` makes one)"
        )
    )
    with (
        Client("http://testserver", "hl_wrong", transport=transport) as c,
        pytest.raises(AuthenticationError) as exc,
    ):
        c.projects()
    assert exc.value.message == "invalid or revoked API token"


def test_conflict_for_a_reserved_item(sdk: Client, project: ProjectOut, ctx, transport) -> None:  # type: ignore[no-untyped-def]
    from hitloop.services import auth, members
    from hitloop.types import Role

    other = auth.create_user(ctx.db, "ann", "ann-password")
    members.add_member(ctx.db, None, project.id, "ann", Role.ANNOTATOR)
    _, secret = auth.create_token(ctx.db, other.id, "t")
    [item_id] = sdk.add_items(project.id, ["only one"])
    assert [i.id for i in sdk.next(project.id)] == [item_id]
    with Client("http://testserver", secret, transport=transport) as ann, pytest.raises(ConflictError):
        ann.submit(item_id, label="pos")
