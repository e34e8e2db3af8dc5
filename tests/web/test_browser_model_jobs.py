"""The model panel in a browser: a running job's bar, a failed job's error, the stopping signal."""

from __future__ import annotations

import re
import time

from playwright.sync_api import Locator, Page, expect
from sqlalchemy import update

from hitloop.api.context import AppContext
from hitloop.db.tables import Job
from hitloop.jobs import records
from hitloop.schemas import AnnotationIn, ItemIn, JobOut, ProjectCreate
from hitloop.services import annotations, items, projects, retrain
from hitloop.services.auth import CurrentUser
from tests.loop.conftest import make_texts
from tests.web import browser
from tests.web.test_browser_labeling import log_in

pytestmark = browser.MARKS
database_url = browser.database_url
no_script_errors = browser.no_script_errors
server = browser.server


def _settled(ctx: AppContext, job_id: int) -> JobOut:
    """Wait for the server's own runner to end the job."""
    deadline = time.monotonic() + 60
    while (job := records.get(ctx.db, job_id)).state not in records.FINISHED:
        assert time.monotonic() < deadline, f"job {job_id} still {job.state}"
        time.sleep(0.1)
    return job


def _job(model: Locator, kind_and_id: str) -> Locator:
    return model.locator(f"li.job:has(.job-kind:text-is('{kind_and_id}'))")


def _label(ctx: AppContext, user: int, pairs: list[tuple[int, str]]) -> None:
    for item_id, label in pairs:
        body = AnnotationIn(value={"label": label}, client_key=f"browser-key-{item_id}")
        annotations.submit(ctx.db, user, item_id, body)


def test_model_panel_shows_running_and_failed_jobs_and_the_stopping_signal(
    page: Page, server: str, ctx: AppContext, admin: CurrentUser
) -> None:
    project = projects.create_project(
        ctx.db, admin.id, ProjectCreate(name="reviews", labels=["pos", "neg"])
    ).id
    texts, truth = make_texts(40)
    ids = items.add_items(ctx.db, project, admin.id, [ItemIn(text=t) for t in texts], ctx.limits)
    pos = [i for i, t in zip(ids, truth, strict=True) if t == "pos"]
    neg = [i for i, t in zip(ids, truth, strict=True) if t == "neg"]

    # One class only: the server's runner takes the train job and it fails, saying why.
    _label(ctx, admin.id, [(i, "pos") for i in pos[:3]])
    failed_job, _ = retrain.request_training(ctx.db, project, admin.id)
    failed = _settled(ctx, failed_job.id)
    assert failed.state == "failed"
    assert failed.error is not None and "training needs labels of at least two classes" in failed.error

    # Both classes: the next one trains, and the stopping signal has an accuracy to show.
    _label(ctx, admin.id, [(i, "pos") for i in pos[3:6]] + [(i, "neg") for i in neg[:6]])
    trained_job, _ = retrain.request_training(ctx.db, project, admin.id)
    assert _settled(ctx, trained_job.id).state == "done"
    for job in records.list_jobs(ctx.db, project_id=project):
        _settled(ctx, job.id)  # anything the labels queued by themselves

    # A job caught mid-run: written as running in the transaction that inserts it, so the
    # server's runner never sees it queued (a runner leaves a project with a running job alone).
    with ctx.db.write() as s:
        running = records.insert_job(s, "featurize", project, {}, admin.id)
        s.execute(update(Job).where(Job.id == running.id).values(state="running", started_at=time.time()))
    records.set_progress(ctx.db, running.id, 0.4, "transforming 40 items in 1 chunks")

    log_in(page, server, f"/projects/{project}")
    model = page.locator("#hl-model")
    row = _job(model, f"featurize #{running.id}")
    expect(row.locator("progress")).to_have_js_property("value", 0.4)
    expect(row).to_contain_text("transforming 40 items in 1 chunks")
    error = _job(model, f"train #{failed_job.id}").locator(".job-error")
    expect(error).to_contain_text("training needs labels of at least two classes")
    expect(error).to_contain_text("classes seen: pos")
    stopping = model.locator(".stopping")
    expect(stopping).to_contain_text("Estimated accuracy")
    expect(stopping).to_have_text(re.compile(r"Estimated accuracy \d+\.\d% · no earlier version"))
    expect(_job(model, f"train #{trained_job.id}")).to_have_attribute("data-state", "done")

    # The bar follows the job while the page is open (it polls while a job is active).
    records.set_progress(ctx.db, running.id, 0.9, "writing features")
    expect(row.locator("progress")).to_have_js_property("value", 0.9, timeout=10_000)
    expect(row).to_contain_text("writing features")
    records.finish(ctx.db, running.id, records.DONE, message="done")
    expect(row).to_have_attribute("data-state", "done", timeout=10_000)
    expect(row.locator("progress")).to_have_count(0)
