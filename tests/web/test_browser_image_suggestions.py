"""An image project's classify page after training: the suggestion pre-selected, with neighbour thumbnails."""

from __future__ import annotations

import io

import numpy as np
from numpy.typing import NDArray
from PIL import Image
from playwright.sync_api import Page, expect
from sklearn.datasets import load_digits
from sqlalchemy import select

from hitloop.api.context import AppContext
from hitloop.db.tables import Annotation
from hitloop.schemas import AnnotationIn, ProjectCreate
from hitloop.services import annotations, items, projects, retrain
from hitloop.services.auth import CurrentUser
from tests.web import browser
from tests.web.test_browser_labeling import log_in, pressed, wait_until_saved
from tests.web.test_browser_model_jobs import _settled

pytestmark = browser.MARKS
database_url = browser.database_url
no_script_errors = browser.no_script_errors
server = browser.server


def _png(pixels: NDArray[np.float64]) -> bytes:
    buf = io.BytesIO()
    Image.fromarray((pixels * 15).astype(np.uint8)).resize((32, 32)).save(buf, "PNG")
    return buf.getvalue()


def test_image_suggestion_is_preselected_and_shows_neighbour_thumbnails(
    page: Page, server: str, ctx: AppContext, admin: CurrentUser
) -> None:
    digits = load_digits(n_class=2)
    spec = ProjectCreate(name="digits", modality="image", labels=["0", "1"])
    project = projects.create_project(ctx.db, admin.id, spec).id
    ids = [
        items.add_image(
            ctx.db, ctx.media, project, admin.id, _png(img), filename=f"{i}.png", limits=ctx.limits
        )
        for i, img in enumerate(digits.images[:30])
    ]
    truth = dict(zip(ids, (str(t) for t in digits.target[:30]), strict=True))
    labeled = ids[:12]
    for i in labeled:
        body = AnnotationIn(value={"label": truth[i]}, client_key=f"digit-key-{i}")
        annotations.submit(ctx.db, admin.id, i, body)
    job, _ = retrain.request_training(ctx.db, project, admin.id)
    assert _settled(ctx, job.id).state == "done"

    log_in(page, server, f"/projects/{project}/label")
    expect(page.locator("#hl-app")).to_have_attribute("data-mode", "item")
    expect(page.locator("#hl-stage img").first).to_be_visible()
    panel = page.locator("#hl-suggest")
    expect(panel).to_be_visible()
    suggested = panel.locator(".suggestion-label").inner_text()
    assert suggested in ("0", "1")
    assert pressed(page) == [suggested]  # pre-selected

    neighbours = panel.locator("img.why-neighbor")
    expect(neighbours).to_have_count(3)
    shown = [int(alt.removeprefix("item ")) for alt in neighbours.evaluate_all("els => els.map(e => e.alt)")]
    assert set(shown) <= set(labeled)
    # Real thumbnails: each one loaded the labeled item's image (an error would leave it 0 wide).
    loaded = "els => els.every(i => i.complete && i.naturalWidth === 32)"
    page.wait_for_function(f"() => ({loaded})([...document.querySelectorAll('img.why-neighbor')])")

    item_id = int(page.locator("#hl-meta").inner_text().split()[0].lstrip("#"))
    assert item_id not in labeled
    page.keyboard.press("Enter")
    wait_until_saved(page)
    with ctx.db.read() as s:
        row = s.scalars(select(Annotation).where(Annotation.item_id == item_id)).one()
    assert row.value == {"label": suggested}
    assert row.shown is not None and row.shown["preselected"] is True
