"""The box editor in a real Chromium: draw, move, resize, relabel, delete, undo, submit."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image, ImageDraw
from playwright.sync_api import Page, expect
from sqlalchemy import select

from hitloop.api.context import AppContext
from hitloop.db.tables import Annotation
from hitloop.schemas import ProjectCreate
from hitloop.services import boxes, items, projects
from hitloop.services.auth import CurrentUser
from hitloop.types import Modality, TaskType
from tests.web import browser
from tests.web.test_browser_labeling import log_in, wait_until_saved

pytestmark = browser.MARKS
database_url = browser.database_url
no_script_errors = browser.no_script_errors
server = browser.server

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "images"


def scene(width: int = 800, height: int = 600) -> bytes:
    image = Image.new("RGB", (width, height), (225, 230, 235))
    draw = ImageDraw.Draw(image)
    draw.ellipse((100, 100, 260, 300), fill=(200, 160, 130))
    draw.rectangle((450, 250, 650, 500), fill=(70, 110, 160))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def boxes_project(ctx: AppContext, user: CurrentUser, images: list[bytes]) -> tuple[int, list[int]]:
    spec = ProjectCreate(name="Scenes", task=TaskType.BOXES, modality=Modality.IMAGE, labels=["face", "car"])
    pid = projects.create_project(ctx.db, user.id, spec).id
    ids = [
        items.add_image(ctx.db, ctx.media, pid, user.id, data, filename=f"{i}.png", limits=ctx.limits)
        for i, data in enumerate(images)
    ]
    return pid, ids


class Canvas:
    """Image pixels to page coordinates, from the editor's published view."""

    def __init__(self, page: Page) -> None:
        self.page = page
        self.el = page.locator(".box-canvas")

    def point(self, x: float, y: float) -> tuple[float, float]:
        box = self.el.bounding_box()
        assert box is not None
        scale = float(self.el.get_attribute("data-scale") or 1)
        tx = float(self.el.get_attribute("data-tx") or 0)
        ty = float(self.el.get_attribute("data-ty") or 0)
        return box["x"] + tx + x * scale, box["y"] + ty + y * scale

    def drag(self, start: tuple[float, float], end: tuple[float, float]) -> None:
        mouse = self.page.mouse
        mouse.move(*self.point(*start))
        mouse.down()
        mouse.move(*self.point(*end), steps=5)
        mouse.up()

    def count(self) -> int:
        return int(self.el.get_attribute("data-count") or 0)


def answers(ctx: AppContext, project_id: int) -> list[Any]:
    with ctx.db.read() as s:
        return list(
            s.scalars(
                select(Annotation.value).where(
                    Annotation.project_id == project_id, Annotation.superseded_by.is_(None)
                )
            )
        )


def test_draw_move_resize_relabel_delete_undo_and_submit(
    page: Page, server: str, ctx: AppContext, admin: CurrentUser
) -> None:
    pid, _ = boxes_project(ctx, admin, [scene(), scene(640, 480)])
    log_in(page, server, f"/projects/{pid}/label")
    editor = page.locator(".box-editor")
    expect(editor).to_have_attribute("data-ready", "true")
    canvas = Canvas(page)

    # Draw two boxes: the first as "face" (the default label), the second as "car".
    canvas.drag((100, 100), (260, 300))
    expect(canvas.el).to_have_attribute("data-count", "1")
    page.keyboard.press("2")
    canvas.drag((450, 250), (600, 450))
    expect(canvas.el).to_have_attribute("data-count", "2")
    # Relabel the first box: select it by clicking, then press 1... then 2 and back to 1.
    page.mouse.click(*canvas.point(180, 200))
    expect(canvas.el).to_have_attribute("data-selected", "0")
    page.keyboard.press("1")
    # Move the car box by (+20, +10), then resize its bottom-right corner to (650, 500).
    canvas.drag((500, 300), (520, 310))
    canvas.drag((620, 460), (650, 500))
    # A third, stray box, deleted with Delete; undo brings it back, undo again removes it.
    canvas.drag((20, 20), (60, 60))
    expect(canvas.el).to_have_attribute("data-count", "3")
    page.keyboard.press("Delete")
    expect(canvas.el).to_have_attribute("data-count", "2")
    page.keyboard.press("Control+z")
    expect(canvas.el).to_have_attribute("data-count", "3")
    page.keyboard.press("Control+z")
    expect(canvas.el).to_have_attribute("data-count", "2")
    # Zoom in and out with the wheel; the boxes stay where they are in image pixels.
    page.mouse.move(*canvas.point(400, 300))
    page.mouse.wheel(0, -300)
    page.wait_for_function("document.querySelector('.box-canvas').dataset.scale > 1")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "box-editor.png"))
    page.keyboard.press("f")
    page.keyboard.press("Enter")
    wait_until_saved(page)

    [value] = answers(ctx, pid)
    face, car = value["boxes"]
    assert face["label"] == "face" and car["label"] == "car"
    assert (face["x"], face["y"], face["w"], face["h"]) == pytest.approx((100, 100, 160, 200), abs=2)
    assert (car["x"], car["y"], car["w"], car["h"]) == pytest.approx((470, 260, 180, 240), abs=2)


def test_an_image_with_no_objects_is_an_empty_answer(
    page: Page, server: str, ctx: AppContext, admin: CurrentUser
) -> None:
    pid, _ = boxes_project(ctx, admin, [scene(320, 240)])
    log_in(page, server, f"/projects/{pid}/label")
    expect(page.locator(".box-editor")).to_have_attribute("data-ready", "true")
    page.keyboard.press("Enter")
    wait_until_saved(page)
    assert answers(ctx, pid) == [{"boxes": []}]


def _editor_with_suggestions(
    page: Page, server: str, ctx: AppContext, admin: CurrentUser, suggested: list[dict[str, Any]]
) -> tuple[int, Canvas]:
    """A one-image boxes project whose item carries ``suggested``, open in the editor with them drawn."""
    pid, [item] = boxes_project(ctx, admin, [scene()])
    boxes._write_suggestions(ctx.db, pid, {item: suggested}, {"source": "test"})
    log_in(page, server, f"/projects/{pid}/label")
    canvas = Canvas(page)
    expect(page.locator(".box-editor")).to_have_attribute("data-ready", "true")
    expect(canvas.el).to_have_attribute("data-count", str(len(suggested)))
    return pid, canvas


def test_suggested_boxes_are_pre_drawn_and_their_fate_is_counted(
    page: Page, server: str, ctx: AppContext, admin: CurrentUser
) -> None:
    suggested = [
        {"x": 100, "y": 100, "w": 160, "h": 200, "label": "face"},
        {"x": 450, "y": 250, "w": 200, "h": 250, "label": "car"},
        {"x": 10, "y": 500, "w": 50, "h": 50, "label": "car"},
    ]
    pid, canvas = _editor_with_suggestions(page, server, ctx, admin, suggested)
    expect(page.locator(".box-status")).to_contain_text("suggested boxes")
    # Keep the face, move the car, delete the stray one.
    canvas.drag((550, 400), (570, 400))
    page.mouse.click(*canvas.point(35, 525))
    page.keyboard.press("Delete")
    expect(canvas.el).to_have_attribute("data-count", "2")
    page.keyboard.press("Enter")
    wait_until_saved(page)
    quality = boxes.box_quality(ctx.db, pid)
    assert quality["edits"] == {"kept": 1, "moved": 1, "deleted": 1, "added": 0}


def test_window_and_level_of_a_16_bit_scan(
    page: Page, server: str, ctx: AppContext, admin: CurrentUser
) -> None:
    ramp = np.rint(np.linspace(1000, 3000, 400 * 300)).astype(np.uint16).reshape(300, 400)
    out = io.BytesIO()
    Image.fromarray(ramp).save(out, "PNG")
    pid, _ = boxes_project(ctx, admin, [out.getvalue()])
    log_in(page, server, f"/projects/{pid}/label")
    canvas = Canvas(page)
    expect(page.locator(".box-editor")).to_have_attribute("data-ready", "true")
    expect(canvas.el).to_have_attribute("data-window", "1010-2990")  # 0.5th to 99.5th percentile
    # Right-drag to the right widens the window around the same level.
    x, y = canvas.point(200, 150)
    page.mouse.move(x, y)
    page.mouse.down(button="right")
    page.mouse.move(x + 100, y, steps=5)
    page.mouse.up(button="right")
    page.wait_for_function("document.querySelector('.box-canvas').dataset.window !== '1010-2990'")
    low, high = map(int, (canvas.el.get_attribute("data-window") or "").split("-"))
    assert high - low > 1980 * 1.5 and abs((low + high) / 2 - 2000) < 5
    assert canvas.count() == 0  # the right button draws nothing
    page.keyboard.press("w")
    expect(canvas.el).to_have_attribute("data-window", "1010-2990")


def _cursor_at(page: Page, canvas: Canvas, x: float, y: float) -> str | None:
    """What the editor would do under image pixel (x, y): "move" inside a box, "crosshair" outside."""
    page.mouse.move(*canvas.point(x, y))
    return canvas.el.get_attribute("data-cursor")


def _view(canvas: Canvas) -> tuple[float, float, float]:
    """The published view transform: (tx, ty, scale)."""
    tx, ty, scale = (float(canvas.el.get_attribute(f"data-{k}") or "nan") for k in ("tx", "ty", "scale"))
    return tx, ty, scale


def test_panning_moves_the_view_not_the_boxes_and_undo_restores_moves_and_resizes(
    page: Page, server: str, ctx: AppContext, admin: CurrentUser
) -> None:
    suggested = [
        {"x": 100, "y": 100, "w": 160, "h": 200, "label": "face"},
        {"x": 450, "y": 250, "w": 200, "h": 250, "label": "car"},
    ]
    pid, canvas = _editor_with_suggestions(page, server, ctx, admin, suggested)
    tx, ty, scale = _view(canvas)

    # Space-drag, started on top of the face box: the view pans by the drag, the box stays put.
    page.mouse.move(*canvas.point(180, 200))
    page.keyboard.down(" ")
    expect(canvas.el).to_have_attribute("data-cursor", "grab")
    page.mouse.down()
    x, y = canvas.point(180, 200)
    page.mouse.move(x + 80, y - 60, steps=4)
    page.mouse.up()
    page.keyboard.up(" ")
    assert _view(canvas) == pytest.approx((tx + 80, ty - 60, scale))
    # Middle-button drag pans too. (Upward, overall: the resize below stays inside the viewport.)
    x, y = canvas.point(400, 150)
    page.mouse.move(x, y)
    page.mouse.down(button="middle")
    page.mouse.move(x - 30, y + 20, steps=4)
    page.mouse.up(button="middle")
    assert _view(canvas) == pytest.approx((tx + 50, ty - 40, scale))
    # The boxes moved with the view: at their image coordinates, under the new transform.
    assert _cursor_at(page, canvas, 120, 120) == "move"
    assert _cursor_at(page, canvas, 90, 90) == "crosshair"
    assert _cursor_at(page, canvas, 600, 450) == "move"
    expect(canvas.el).to_have_attribute("data-selected", "-1")  # nor did panning select anything

    # Move the face by (+50, +40): (120, 120) is no longer in it; undo puts it back.
    canvas.drag((180, 200), (230, 240))
    assert _cursor_at(page, canvas, 120, 120) == "crosshair"
    page.keyboard.press("Control+z")
    assert _cursor_at(page, canvas, 120, 120) == "move"
    # Resize the car's bottom-right corner out to (700, 560): (680, 540) is in it; undo shrinks it back.
    page.mouse.click(*canvas.point(550, 350))
    expect(canvas.el).to_have_attribute("data-selected", "1")
    canvas.drag((650, 500), (700, 560))
    page.mouse.click(*canvas.point(400, 150))  # a click on empty image: nothing selected, no edge handles
    expect(canvas.el).to_have_attribute("data-selected", "-1")
    assert _cursor_at(page, canvas, 680, 540) == "move", _view(canvas)
    page.keyboard.press("Control+z")
    assert _cursor_at(page, canvas, 680, 540) == "crosshair"
    assert _view(canvas) == pytest.approx((tx + 50, ty - 40, scale))  # undo leaves the view alone

    page.keyboard.press("Enter")
    wait_until_saved(page)
    [value] = answers(ctx, pid)
    assert value["boxes"] == suggested  # exactly: neither the pans nor the undone edits left a trace
