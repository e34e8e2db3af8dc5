"""Window/level of a 16-bit scan on the classify labeling page, in a real Chromium."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image
from playwright.sync_api import Page, expect
from sqlalchemy import select

from hitloop.api.context import AppContext
from hitloop.db.tables import Annotation
from hitloop.schemas import ProjectCreate
from hitloop.services import items, projects
from hitloop.services.auth import CurrentUser
from hitloop.types import Modality, TaskType
from tests.web import browser
from tests.web.test_browser_labeling import log_in, wait_until_saved

pytestmark = browser.MARKS
database_url = browser.database_url
no_script_errors = browser.no_script_errors
server = browser.server

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def _png(array: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(array).save(out, "PNG")
    return out.getvalue()


def _gray_at(page: Page, x: int, y: int) -> int:
    """The gray level the scan canvas shows at image pixel (x, y)."""
    return int(
        page.locator("canvas.scan-image").evaluate(
            "(c, [x, y]) => c.getContext('2d').getImageData(x, y, 1, 1).data[0]", [x, y]
        )
    )


def test_window_and_level_of_a_16_bit_scan_on_the_classify_page(
    page: Page, server: str, ctx: AppContext, admin: CurrentUser
) -> None:
    # A left-to-right ramp of samples 1000..3000 (what a CT slice's numbers look like),
    # then an ordinary 8-bit image, which must stay a plain <img>.
    ramp = np.tile(np.rint(np.linspace(1000, 3000, 400)).astype(np.uint16), (300, 1))
    plain = np.full((60, 80), 128, dtype=np.uint8)
    spec = ProjectCreate(
        name="Scans", task=TaskType.CLASSIFY, modality=Modality.IMAGE, labels=["normal", "finding"]
    )
    pid = projects.create_project(ctx.db, admin.id, spec).id
    scan_id, plain_id = (
        items.add_image(ctx.db, ctx.media, pid, admin.id, data, filename=name, limits=ctx.limits)
        for name, data in (("scan.png", _png(ramp)), ("plain.png", _png(plain)))
    )
    log_in(page, server, f"/projects/{pid}/label")

    scan = page.locator("#hl-stage canvas.scan-image")
    expect(scan).to_have_attribute("data-window", "1010-2990")  # 0.5th to 99.5th percentile
    assert scan.evaluate("c => [c.width, c.height]") == [400, 300]
    assert _gray_at(page, 0, 150) == 0 and _gray_at(page, 399, 150) == 255
    middle = _gray_at(page, 200, 150)
    assert 120 <= middle <= 135
    assert page.locator("#hl-stage img.item-image").count() == 0

    # Right-drag to the right widens the window around the same level: the middle stays
    # mid-gray, the ends are no longer clipped to black and white.
    box = scan.bounding_box()
    assert box is not None
    x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down(button="right")
    page.mouse.move(x + 100, y, steps=5)
    page.mouse.up(button="right")
    page.wait_for_function("document.querySelector('canvas.scan-image').dataset.window !== '1010-2990'")
    low, high = map(int, (scan.get_attribute("data-window") or "").split("-"))
    assert high - low > 1980 * 1.5 and abs((low + high) / 2 - 2000) < 5
    assert 0 < _gray_at(page, 0, 150) < 60 and 195 < _gray_at(page, 399, 150) < 255
    # Right-drag down raises the level: the same sample looks darker.
    page.mouse.move(x, y)
    page.mouse.down(button="right")
    page.mouse.move(x, y + 60, steps=4)
    page.mouse.up(button="right")
    page.wait_for_function(f"document.querySelector('canvas.scan-image').dataset.window !== '{low}-{high}'")
    assert _gray_at(page, 200, 150) < middle - 20
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "labeling-scan-window.png"))

    page.keyboard.press("w")  # back to the automatic window
    expect(scan).to_have_attribute("data-window", "1010-2990")
    assert _gray_at(page, 0, 150) == 0

    # The keys still label: 2 then Enter answers "finding" and shows the 8-bit image.
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    expect(page.locator("#hl-stage img.item-image")).to_be_visible()
    assert page.locator("#hl-stage canvas.scan-image").count() == 0
    wait_until_saved(page)
    with ctx.db.read() as s:
        answers = s.execute(
            select(Annotation.item_id, Annotation.label).where(Annotation.project_id == pid)
        ).all()
    assert [(a.item_id, a.label) for a in answers] == [(scan_id, "finding")]
    assert plain_id != scan_id
