"""The model in the browser: the suggestion pre-selected with its reasons, and the project's model panel."""

from __future__ import annotations

import time

from playwright.sync_api import Page, expect
from sqlalchemy import select

from hitloop.api.context import AppContext
from hitloop.db.tables import Annotation
from hitloop.jobs import records
from hitloop.schemas import AnnotationIn
from hitloop.services import annotations, retrain
from hitloop.services.auth import CurrentUser
from tests.loop.conftest import make_loop
from tests.web import browser
from tests.web.test_browser_labeling import ARTIFACTS, log_in, pressed, wait_until_saved

pytestmark = browser.MARKS
database_url = browser.database_url
no_script_errors = browser.no_script_errors
server = browser.server


def test_suggestion_is_preselected_explained_and_recorded(
    page: Page, server: str, ctx: AppContext, admin: CurrentUser
) -> None:
    loop = make_loop(ctx.db, ctx.settings)
    for i in loop.ids[:12]:
        body = AnnotationIn(value={"label": loop.truth[i]}, client_key=f"seed-key-{i}")
        annotations.submit(ctx.db, admin.id, i, body)
    job, _ = retrain.request_training(ctx.db, loop.project, admin.id)
    loop.run_jobs()
    # The live server runs jobs too: it may have claimed this one first.
    deadline = time.monotonic() + 60
    while records.get(ctx.db, job.id).state in ("queued", "running") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert records.get(ctx.db, job.id).state == "done"

    log_in(page, server, f"/projects/{loop.project}/label")
    expect(page.locator("#hl-app")).to_have_attribute("data-mode", "item")
    panel = page.locator("#hl-suggest")
    expect(panel).to_be_visible()
    suggested = panel.locator(".suggestion-label").inner_text()
    assert suggested in ("pos", "neg")
    expect(panel).to_contain_text("%")
    assert pressed(page) == [suggested]  # pre-selected: Enter accepts
    expect(page.locator("#hl-stage .item-text mark.why-word").first).to_be_visible()
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "labeling-suggestion.png"))
    item_id = int(page.locator("#hl-meta").inner_text().split()[0].lstrip("#"))
    page.keyboard.press("Enter")
    wait_until_saved(page)
    with ctx.db.read() as s:
        row = s.scalars(select(Annotation).where(Annotation.item_id == item_id)).one()
    assert row.value == {"label": suggested}
    assert row.shown is not None and row.shown["preselected"] is True
    assert row.shown["value"] == {"label": suggested}

    page.goto(f"{server}/projects/{loop.project}")
    model = page.locator("#hl-model")
    expect(model.locator("svg.learning-curve circle")).to_have_count(1)
    expect(model.locator("table.versions tbody tr")).to_have_count(1)
    expect(model.locator("li.job").first).to_contain_text("done")
    page.screenshot(path=str(ARTIFACTS / "project-model-panel.png"), full_page=True)
    model.get_by_role("button", name="Retrain now").click()
    expect(model.locator(".model-status")).to_contain_text("Train job")
    expect(model.locator("table.versions tbody tr")).to_have_count(2, timeout=30_000)
