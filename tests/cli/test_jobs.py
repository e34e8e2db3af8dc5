"""``hitloop train`` and ``hitloop jobs`` on the test database."""

from __future__ import annotations

from hitloop.api.context import AppContext
from hitloop.jobs import records
from hitloop.schemas import AnnotationIn, ItemIn, ProjectCreate
from hitloop.services import annotations, auth, items, projects
from hitloop.services.items import ItemLimits
from tests.cli.conftest import Run
from tests.loop.conftest import make_texts


def _project(ctx: AppContext, n_labels: int) -> int:
    user = auth.create_user(ctx.db, "ann", "ann-password").id
    p = projects.create_project(ctx.db, user, ProjectCreate(name="r", labels=["pos", "neg"])).id
    texts, truth = make_texts(30)
    ids = items.add_items(ctx.db, p, user, [ItemIn(text=t) for t in texts], ItemLimits())
    for i, label in list(zip(ids, truth, strict=True))[:n_labels]:
        annotations.submit(ctx.db, user, i, AnnotationIn(value={"label": label}, client_key=f"cli-key-{i}"))
    return p


def test_train_wait_runs_the_job_here_and_reports_the_model(run: Run, ctx: AppContext) -> None:
    project = _project(ctx, n_labels=10)
    out = run("train", project, "--wait").stdout
    assert f"train job 1 for project {project}" in out
    assert "Model version 1: 10 labels, cross-validated accuracy" in out
    assert "20 items scored" in out
    listed = run("jobs", "list", "--project", project).stdout
    assert "train" in listed and "done" in listed
    shown = run("jobs", "show", "1").stdout
    assert "state:     done" in shown and "model_version_id: 1" in shown
    assert "Job 1 (train) done" in run("jobs", "wait", "1").stdout


def test_train_without_wait_queues_once(run: Run, ctx: AppContext) -> None:
    project = _project(ctx, n_labels=2)
    assert "Queued train job 1" in run("train", project).stdout
    assert "Already queued: train job 1" in run("train", project).stdout
    assert "Job 1 cancelled." in run("jobs", "cancel", "1").stdout
    assert "Queued train job 2." in run("jobs", "rerun", "1").stdout


def test_failures_and_bad_ids_exit_with_a_message(run: Run, ctx: AppContext) -> None:
    project = _project(ctx, n_labels=1)
    failed = run("train", project, "--wait", expect=2)
    assert (
        "job 1 (train) failed: field 'labels': training needs labels of at least two classes" in failed.stderr
    )
    assert "job 999 not found" in run("jobs", "show", "999", expect=2).stderr
    assert "project 999 not found" in run("train", "999", expect=2).stderr
    records.create(ctx.db, "train", project_id=project)
    assert "is still queued after 0 s" in run("jobs", "wait", "2", "--timeout", "0", expect=2).stderr
    assert "already ended (failed)" in run("jobs", "cancel", "1", expect=2).stderr
