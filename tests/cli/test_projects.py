from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from hitloop.api.context import AppContext
from hitloop.schemas import AnnotationIn, ItemIn
from hitloop.services import annotations as annotation_service
from hitloop.services import auth, items, projects, queue
from tests.cli.conftest import Run


def test_create_list_show(run: Run, ctx: AppContext) -> None:
    result = run(
        "projects", "create", "Tickets", "--labels", "bug, question,praise", "--instructions", "Be quick."
    )
    assert result.stdout == "Created project 1 'Tickets' (classify, text, 3 labels)\n"
    project = projects.get_project(ctx.db, 1)
    assert project.labels == ["bug", "question", "praise"]
    assert project.instructions == "Be quick."

    user = auth.create_user(ctx.db, "ann", "ann-password")
    items.add_items(ctx.db, 1, None, [ItemIn(text=f"ticket {i}") for i in range(4)], ctx.limits)
    for n, label in enumerate(["bug", "bug", "praise"]):
        item = queue.next_items(ctx.db, 1, user.id)[0]
        annotation_service.submit(
            ctx.db, user.id, item.id, AnnotationIn(value={"label": label}, client_key=f"key-{n:04d}")
        )

    listed = run("projects", "list").stdout.splitlines()
    assert listed[0].split() == ["ID", "NAME", "TASK", "MODALITY", "LABELED/TOTAL"]
    assert listed[1].split() == ["1", "Tickets", "classify", "text", "3/4"]

    shown = run("projects", "show", 1).stdout
    assert "Project 1: Tickets" in shown
    assert "items:        4 (3 labeled, 1 to go)" in shown
    distribution = {
        line.split()[0]: line.split()[1:3] for line in shown.split("Label distribution:")[1].splitlines()[2:]
    }
    assert distribution == {"bug": ["2", "66.7%"], "question": ["0", "0.0%"], "praise": ["1", "33.3%"]}


def test_create_multilabel_image_project_from_label_file(
    run: Run, ctx: AppContext, write: Callable[[str, str], Path]
) -> None:
    labels = write("labels.txt", "cat\n\ndog\n  bird  \n")
    run("projects", "create", "Pets", "--task", "multilabel", "--modality", "image", "--label-file", labels)
    project = projects.get_project(ctx.db, 1)
    assert (project.task.value, project.modality.value, project.labels) == (
        "multilabel",
        "image",
        ["cat", "dog", "bird"],
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "Error: field 'labels': the label set must be a non-empty list of names\n"),
        (["--labels", ""], "Error: field 'labels': the label set must be a non-empty list of names\n"),
        (["--labels", "a,,b"], "Error: field 'labels[1]': label 1 is empty\n"),
        (["--labels", "a,a"], "Error: field 'labels[1]': label 'a' appears twice\n"),
    ],
    ids=["none", "empty", "blank-label", "duplicate"],
)
def test_bad_label_sets(run: Run, ctx: AppContext, args: list[str], message: str) -> None:
    result = run("projects", "create", "Nope", *args, expect=2)
    assert result.stderr == message
    assert projects.list_projects(ctx.db) == []


def test_labels_and_label_file_together(run: Run, write: Callable[[str, str], Path]) -> None:
    result = run("projects", "create", "X", "--labels", "a", "--label-file", write("l.txt", "b\n"), expect=2)
    assert "give --labels or --label-file, not both" in result.stderr


def test_unknown_task(run: Run) -> None:
    result = run("projects", "create", "X", "--labels", "a", "--task", "hologram", expect=2)
    assert "Invalid value for '--task'" in result.stderr
