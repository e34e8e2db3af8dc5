"""``hitloop members``, ``hitloop team`` and ``hitloop gold`` on the test database."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from hitloop.api.context import AppContext
from hitloop.schemas import ItemIn, ProjectCreate
from hitloop.services import auth, gold, items, members, projects, team
from hitloop.services.items import ItemLimits
from tests.cli.conftest import Run


@pytest.fixture
def pid(ctx: AppContext) -> int:
    owner = auth.create_user(ctx.db, "olive", "olive-password")
    auth.create_user(ctx.db, "ann", "ann-password")
    project = projects.create_project(ctx.db, owner.id, ProjectCreate(name="p", labels=["a", "b"]))
    texts = [ItemIn(text=f"t{i}", external_id=f"e{i}") for i in range(3)]
    items.add_items(ctx.db, project.id, owner.id, texts, ItemLimits())
    return project.id


def test_add_list_change_unpause_remove(run: Run, ctx: AppContext, pid: int) -> None:
    assert run("members", "add", pid, "ann", "--role", "annotator").stdout == (
        f"Added 'ann' to project {pid} as annotator\n"
    )
    listed = [line.split() for line in run("members", "list", pid).stdout.splitlines()]
    assert listed[0] == ["ID", "USER", "ROLE", "STATE"]
    assert [row[1:3] for row in listed[1:]] == [["ann", "annotator"], ["olive", "owner"]]
    run("members", "role", pid, "ann", "reviewer")
    ann = next(m for m in members.list_members(ctx.db, pid) if m.username == "ann")
    members.update_member(ctx.db, None, pid, ann.user_id, paused=True)
    assert "paused" in run("members", "list", pid).stdout
    run("members", "unpause", pid, "ann")
    assert "paused" not in run("members", "list", pid).stdout
    run("members", "remove", pid, "ann")
    assert [m.username for m in members.list_members(ctx.db, pid)] == ["olive"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("members", "add", "{pid}", "nobody"), "Error: field 'username': no user named 'nobody'\n"),
        (
            ("members", "remove", "{pid}", "ann"),
            "Error: field 'user': 'ann' is not a member of project {pid}\n",
        ),
        (("members", "add", "99", "ann"), "Error: field 'project_id': project 99 not found\n"),
        (
            ("team", "{pid}", "--overlap", "0"),
            "Error: field 'overlap': Input should be greater than or equal to 1\n",
        ),
        (
            ("team", "{pid}", "--overlap", "3", "--overlap-max", "2"),
            "Error: field 'overlap_max': overlap_max (2) is below overlap (3)\n",
        ),
    ],
    ids=["unknown-user", "not-member", "unknown-project", "overlap-zero", "max-below-overlap"],
)
def test_bad_input_is_a_precise_error_and_changes_nothing(
    run: Run, ctx: AppContext, pid: int, args: tuple[str, ...], message: str
) -> None:
    before = (members.list_members(ctx.db, pid), team.get_team_settings(ctx.db, pid))
    result = run(*[a.replace("{pid}", str(pid)) for a in args], expect=2)
    assert result.stderr == message.replace("{pid}", str(pid))
    assert (members.list_members(ctx.db, pid), team.get_team_settings(ctx.db, pid)) == before


def test_team_settings_show_and_change(run: Run, ctx: AppContext, pid: int) -> None:
    shown = dict(line.split(maxsplit=1) for line in run("team", pid).stdout.splitlines()[1:])
    assert shown["overlap"] == "1" and shown["annotator_visibility"] == "own"
    run("team", pid, "--overlap", "2", "--overlap-max", "4", "--gold-rate", "0.2")
    got = team.get_team_settings(ctx.db, pid)
    assert (got.overlap, got.overlap_max, got.gold_rate) == (2, 4, 0.2)


def test_gold_mark_list_accuracy(
    run: Run, ctx: AppContext, pid: int, write: Callable[[str, str], Path]
) -> None:
    jsonl = write(
        "gold.jsonl", '{"external_id": "e0", "label": "a"}\n\n{"item_id": 2, "value": {"label": "b"}}\n'
    )
    assert run("gold", "mark", pid, jsonl).stdout == f"Marked 2 gold items in project {pid}\n"
    csv_file = write("gold.csv", "external_id,label\ne2,a\n")
    run("gold", "mark", pid, csv_file)
    assert len(gold.list_gold(ctx.db, pid)) == 3
    listed = run("gold", "list", pid).stdout.splitlines()
    assert listed[0].split()[:2] == ["ITEM", "EXTERNAL"] and len(listed) == 4
    assert run("gold", "accuracy", pid).stdout.splitlines()[0].split()[0] == "USER"


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("bad.jsonl", '{"external_id": "e0", "label": "a"}\nnot json\n', "bad.jsonl:2: not JSON"),
        ("bad.jsonl", '{"external_id": "e0"}\n', "bad.jsonl:1, field 'label': give label or value"),
        (
            "bad.jsonl",
            '{"external_id": "e0", "label": "a"}\n{"external_id": "e1", "label": "zzz"}\n',
            "bad.jsonl:2, field 'value.label': unknown label 'zzz'",
        ),
        (
            "bad.csv",
            "external_id,label\nnope,a\n",
            "bad.csv:2, field 'external_id': no item with external_id 'nope'",
        ),
        ("empty.jsonl", "\n", "empty.jsonl: the file has no rows"),
    ],
    ids=["not-json", "no-label", "unknown-label", "unknown-external-id", "empty"],
)
def test_bad_gold_files_name_file_line_and_field_and_mark_nothing(
    run: Run, ctx: AppContext, pid: int, write: Callable[[str, str], Path], name: str, text: str, message: str
) -> None:
    path = write(name, text)
    result = run("gold", "mark", pid, path, expect=2)
    assert result.stderr.startswith("Error: " + str(path.parent) + "/" + message), result.stderr
    assert gold.list_gold(ctx.db, pid) == []
