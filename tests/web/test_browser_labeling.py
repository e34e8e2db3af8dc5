"""The annotation app in a real Chromium, against a real uvicorn server."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from PIL import Image
from playwright.sync_api import Page, Route, expect
from sqlalchemy import select, update

from hitloop.api.context import AppContext
from hitloop.api.deps import CACHE_KEY
from hitloop.db.tables import Annotation, Item, Project
from hitloop.db.tables import Session as DbSession
from hitloop.schemas import ItemIn, ProjectCreate
from hitloop.services import items, projects
from hitloop.services.auth import CurrentUser
from tests.web import browser
from tests.web.conftest import ADMIN_PASSWORD

pytestmark = browser.MARKS
database_url = browser.database_url
no_script_errors = browser.no_script_errors
server = browser.server

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
HOSTILE_LABEL = '<img src=x onerror="window.__xss=1">'
HOSTILE_TEXT = '</script><script>window.__xss=2</script>\n<img src=x onerror="window.__xss=1">'

REVIEWS = [
    "The battery easily lasts two days and the screen is gorgeous.\nWould buy again.",
    "Stopped working after a week. Support never answered my emails.",
    "It does what it says. Nothing more, nothing less.",
    "Setup took five minutes and everything just worked.",
    "The strap broke on the first day; the replacement was no better.",
    "Average sound, average build, average price.",
    "Honestly the best purchase I made this year.",
    "Arrived late and the box was crushed.",
    "Fine for the price, though the app is clunky.",
    "Comfortable, light, and the colors are exactly as pictured.",
    "Loud fan, hot to the touch, returned it.",
    "Works with my old charger, which was a nice surprise.",
    "I am not sure yet; ask me again in a month.",
    "Five stars for the customer service alone.",
]


def log_in(page: Page, base: str, next_path: str) -> None:
    page.goto(f"{base}{next_path}")
    expect(page).to_have_url(f"{base}/login" + ("" if next_path == "/" else f"?next={next_path}"))
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_label("Password").press("Enter")
    expect(page).to_have_url(f"{base}{next_path}")


def text_project(ctx: AppContext, user: CurrentUser, texts: list[str], **spec: Any) -> int:
    body = {"name": "Product reviews", "labels": ["positive", "negative", "neutral"], **spec}
    project = projects.create_project(ctx.db, user.id, ProjectCreate(**body))
    items.add_items(ctx.db, project.id, user.id, [ItemIn(text=t) for t in texts], ctx.limits)
    return project.id


def shown_id(page: Page) -> int:
    return int(page.locator("#hl-meta").inner_text().split()[0].lstrip("#"))


def wait_until_saved(page: Page) -> None:
    expect(page.locator("#hl-app")).to_have_attribute("data-pending", "0")
    expect(page.locator("#hl-save")).to_have_text("All answers saved")


def pressed(page: Page) -> list[str]:
    return page.locator('.label-btn[aria-pressed="true"] .label-name').all_inner_texts()


def active_answers(ctx: AppContext, project_id: int) -> dict[int, Any]:
    with ctx.db.read() as s:
        rows = s.execute(
            select(Annotation).where(Annotation.project_id == project_id, Annotation.superseded_by.is_(None))
        ).scalars()
        out: dict[int, Any] = {}
        for row in rows:
            assert row.item_id not in out, f"item {row.item_id} has two active answers"
            out[row.item_id] = row.value
        return out


def eventually(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def test_label_ten_by_keyboard_then_go_back_and_fix_one(
    page: Page, server: str, ctx: AppContext, admin: CurrentUser
) -> None:
    labels = ["positive", "negative", "neutral"]
    project_id = text_project(ctx, admin, REVIEWS)
    log_in(page, server, f"/projects/{project_id}/label")
    expect(page.locator("#hl-app")).to_have_attribute("data-mode", "item")

    answered: list[tuple[int, str]] = []
    for i in range(10):
        item_id = shown_id(page)
        text = page.locator("#hl-stage .item-text")
        with ctx.db.read() as s:
            expected_text = s.get(Item, item_id).text  # type: ignore[union-attr]
        # Line breaks survive: the text is shown as text, not as HTML.
        assert text.evaluate("el => el.textContent") == expected_text
        label = labels[i % 3]
        page.keyboard.press(str(i % 3 + 1))
        assert pressed(page) == [label]
        page.keyboard.press("Enter")
        answered.append((item_id, label))
        expect(page.locator("#hl-meta")).not_to_have_text(f"#{item_id}")
    assert len({item_id for item_id, _ in answered}) == 10
    expect(page.locator("#hl-session-count")).to_have_text("10")
    wait_until_saved(page)
    expect(page.locator("#hl-project-labeled")).to_have_text("10")
    queued = shown_id(page)

    # The prefetch buffer: one item on screen, three more leased and waiting.
    def leased() -> int:
        with ctx.db.read() as s:
            rows = s.scalars(select(Item.id).where(Item.state == "leased", Item.leased_by == admin.id))
            return len(list(rows))

    eventually(lambda: leased() == 4)

    # Back three steps: newest first, each with its answer selected.
    for steps, (item_id, label) in enumerate(reversed(answered[-3:]), start=1):
        page.keyboard.press("Backspace" if steps != 2 else "b")
        expect(page.locator("#hl-meta")).to_have_text(f"#{item_id}")
        expect(page.locator("#hl-review")).to_be_visible()
        expect(page.locator("#hl-app")).to_have_attribute("data-mode", "review")
        assert pressed(page) == [label]

    # Forward one, then fix that answer (the 9th): pick another label, Enter.
    page.keyboard.press("ArrowRight")
    fixed_id, old_label = answered[8]
    expect(page.locator("#hl-meta")).to_have_text(f"#{fixed_id}")
    new_label = next(name for name in labels if name != old_label)
    page.keyboard.press(str(labels.index(new_label) + 1))
    assert pressed(page) == [new_label]
    page.keyboard.press("Enter")
    # Enter moves forward to the 10th answer, unchanged; Esc returns to the queue.
    expect(page.locator("#hl-meta")).to_have_text(f"#{answered[9][0]}")
    assert pressed(page) == [answered[9][1]]
    page.keyboard.press("Escape")
    expect(page.locator("#hl-meta")).to_have_text(f"#{queued}")
    expect(page.locator("#hl-review")).to_be_hidden()
    assert pressed(page) == []
    wait_until_saved(page)

    active = active_answers(ctx, project_id)
    want = dict(answered)
    want[fixed_id] = new_label
    assert {item_id: value["label"] for item_id, value in active.items()} == want
    with ctx.db.read() as s:
        rows = list(s.scalars(select(Annotation).where(Annotation.project_id == project_id)))
    assert len(rows) == 11
    superseded = [r for r in rows if r.superseded_by is not None]
    assert [(r.item_id, r.label) for r in superseded] == [(fixed_id, old_label)]
    replacement = next(r for r in rows if r.id == superseded[0].superseded_by)
    assert (replacement.item_id, replacement.label) == (fixed_id, new_label)
    assert all(r.seconds is not None and r.seconds >= 0 for r in rows)
    assert len({r.client_key for r in rows}) == 11


def _digit_png(index: int) -> bytes:
    """An 8×8 handwritten digit from scikit-learn's bundled data set (no download)."""
    from sklearn.datasets import load_digits

    pixels = (load_digits().images[index] * (255 / 16)).astype("uint8")
    buffer = io.BytesIO()
    Image.fromarray(255 - pixels, mode="L").save(buffer, format="PNG")
    return buffer.getvalue()


def test_image_project_upload_render_and_label_by_keyboard(
    page: Page, server: str, ctx: AppContext, admin: CurrentUser
) -> None:
    labels = ["round", "straight", "crossed"]
    spec = ProjectCreate(name="Digits", task="multilabel", modality="image", labels=labels)  # type: ignore[arg-type]
    project = projects.create_project(ctx.db, admin.id, spec)
    log_in(page, server, f"/projects/{project.id}")

    # Upload through the project page's form (fetch + CSRF header to the JSON API).
    files = [{"name": f"digit-{d}.png", "mimeType": "image/png", "buffer": _digit_png(d)} for d in range(5)]
    page.locator('form[data-upload="images"] input[type="file"]').set_input_files(files)  # type: ignore[arg-type]
    page.get_by_role("button", name="Upload").click()
    expect(page.locator(".upload-status")).to_have_text("Uploaded 5 images.")
    expect(page.locator('[data-stat="total"]')).to_have_text("5")

    page.get_by_role("link", name="Start labeling").click()
    image = page.locator("#hl-stage img.item-image")
    expect(image).to_be_visible()
    expect(image).to_have_class("item-image pixelated")
    size = image.evaluate("img => [img.naturalWidth, img.getBoundingClientRect().width]")
    assert size[0] == 8 and size[1] >= 240, size
    assert image.evaluate("img => getComputedStyle(img).imageRendering") == "pixelated"
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "labeling-image.png"))

    for i in range(5):
        item_id = shown_id(page)
        page.keyboard.press("1")
        page.keyboard.press("3")
        if i % 2:
            page.keyboard.press("1")  # toggles "round" off again
        assert pressed(page) == (["crossed"] if i % 2 else ["round", "crossed"])
        page.keyboard.press("Enter")
        if i < 4:
            expect(page.locator("#hl-meta")).not_to_have_text(f"#{item_id}")
    expect(page.locator("#hl-done")).to_be_visible()
    expect(page.locator("#hl-done")).to_contain_text("Queue empty — all done")
    assert pressed(page) == []
    wait_until_saved(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "labeling-done.png"))
    values = sorted(tuple(v["labels"]) for v in active_answers(ctx, project.id).values())
    assert values == [("crossed",)] * 2 + [("round", "crossed")] * 3


def test_import_from_the_project_page_and_label_with_the_mouse(
    page: Page, server: str, ctx: AppContext, admin: CurrentUser
) -> None:
    spec = ProjectCreate(name="Imported", labels=["yes", "no"])
    project = projects.create_project(ctx.db, admin.id, spec)
    log_in(page, server, f"/projects/{project.id}")
    lines = [json.dumps({"body": f"line {i}\nsecond line", "key": f"k{i}"}) for i in range(3)]
    upload = {"name": "data.jsonl", "mimeType": "application/x-ndjson", "buffer": "\n".join(lines).encode()}
    form = page.locator('form[data-upload="import"]')
    form.locator('input[type="file"]').set_input_files(upload)  # type: ignore[arg-type]
    form.get_by_label("Text field").fill("body")
    form.get_by_label("ID field").fill("key")
    form.get_by_role("button", name="Import").click()
    expect(form.locator(".upload-status")).to_have_text("Imported 3 items from data.jsonl.")
    expect(page.locator('[data-stat="total"]')).to_have_text("3")

    # A bad file is refused as a whole, with the line that is wrong.
    form.locator('input[type="file"]').set_input_files(
        {"name": "bad.jsonl", "mimeType": "application/x-ndjson", "buffer": b'{"body": "ok"}\n{oops\n'}
    )
    form.get_by_role("button", name="Import").click()
    expect(form.locator(".upload-status")).to_contain_text("Nothing was imported: bad.jsonl:2")
    expect(page.locator('[data-stat="total"]')).to_have_text("3")

    page.get_by_role("link", name="Start labeling").click()
    expect(page.locator("#hl-app")).to_have_attribute("data-mode", "item")
    meta = page.locator("#hl-meta")

    def shown_key() -> str:
        expect(meta).to_contain_text("· k")  # "#<id> · <external id>"
        return meta.inner_text().split("·")[-1].strip()

    # The import queued featurizing, which may reorder the queue (cold start): no fixed order.
    first = shown_key()
    assert page.locator(".item-text").inner_text() == f"line {first[1:]}\nsecond line"
    page.get_by_role("button", name="no").click()
    page.get_by_role("button", name="Submit").click()
    expect(meta).not_to_contain_text(first)
    second = shown_key()
    page.get_by_role("button", name="Skip").click()
    expect(meta).not_to_contain_text(second)
    assert {first, second, shown_key()} == {"k0", "k1", "k2"}
    wait_until_saved(page)
    with ctx.db.read() as s:
        rows = list(s.scalars(select(Annotation).order_by(Annotation.id)))
    assert [(r.label, r.skipped) for r in rows] == [("no", False), (None, True)]


def test_screenshot_of_the_labeling_page(
    page: Page, server: str, ctx: AppContext, admin: CurrentUser
) -> None:
    instructions = (
        "Label the overall sentiment of the review.\n"
        "Mixed or purely factual reviews are neutral.\nSkip reviews that are not in English."
    )
    labels = ["positive", "negative", "neutral", "mixed", "off-topic"]
    project_id = text_project(ctx, admin, REVIEWS, labels=labels, instructions=instructions)
    log_in(page, server, f"/projects/{project_id}/label")
    for key in "12312":
        expect(page.locator("#hl-app")).to_have_attribute("data-mode", "item")
        page.keyboard.press(key)
        page.keyboard.press("Enter")
    page.keyboard.press("1")
    wait_until_saved(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "labeling-page.png"))
    assert (ARTIFACTS / "labeling-page.png").stat().st_size > 10_000
    # The other states and pages, for a look by eye.
    page.keyboard.press("Backspace")
    expect(page.locator("#hl-app")).to_have_attribute("data-mode", "review")
    page.screenshot(path=str(ARTIFACTS / "labeling-review.png"))
    page.goto(f"{server}/projects/{project_id}")
    page.screenshot(path=str(ARTIFACTS / "project-page.png"), full_page=True)
    page.goto(f"{server}/")
    page.screenshot(path=str(ARTIFACTS / "projects-page.png"), full_page=True)
    page.goto(f"{server}/projects/new")
    page.get_by_label("Name").fill("Another")
    page.get_by_role("button", name="Create project").click()
    expect(page.locator("#form-error")).to_have_text(
        "labels: the label set must be a non-empty list of names"
    )
    page.screenshot(path=str(ARTIFACTS / "new-project-page.png"), full_page=True)


def test_hostile_text_and_labels_stay_text(
    page: Page, server: str, ctx: AppContext, admin: CurrentUser
) -> None:
    labels = [HOSTILE_LABEL, "</script><script>window.__xss=2</script>"]
    project_id = text_project(
        ctx, admin, [HOSTILE_TEXT, HOSTILE_TEXT + " 2"], labels=labels, name=HOSTILE_TEXT
    )
    log_in(page, server, "/")
    expect(page.locator(".project-card h2")).to_have_text(HOSTILE_TEXT.replace("\n", " "))
    page.goto(f"{server}/projects/{project_id}")
    page.goto(f"{server}/projects/{project_id}/label")
    expect(page.locator("#hl-app")).to_have_attribute("data-mode", "item")
    assert page.locator("#hl-stage .item-text").evaluate("el => el.textContent") == HOSTILE_TEXT
    assert page.locator(".label-name").all_inner_texts() == labels
    assert page.locator("#hl-stage img, #hl-stage script").count() == 0
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    page.keyboard.press("Backspace")
    expect(page.locator("#hl-review")).to_contain_text(HOSTILE_LABEL)
    wait_until_saved(page)
    assert [v["label"] for v in active_answers(ctx, project_id).values()] == [HOSTILE_LABEL]
    assert page.evaluate("typeof window.__xss") == "undefined"


def test_a_refused_answer_is_reported_and_can_be_given_again(
    page: Page, server: str, ctx: AppContext, admin: CurrentUser
) -> None:
    project_id = text_project(ctx, admin, REVIEWS[:3])
    log_in(page, server, f"/projects/{project_id}/label")
    expect(page.locator("#hl-app")).to_have_attribute("data-mode", "item")
    item_id = shown_id(page)

    def set_labels(names: list[str]) -> None:
        with ctx.db.write() as s:
            s.execute(update(Project).where(Project.id == project_id).values(labels=names))

    # The label set changes under the annotator: the server refuses "positive" (422).
    set_labels(["good", "bad"])
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    banner = page.locator("#hl-banner")
    expect(banner).to_be_visible()
    expect(banner).to_contain_text(f"Your answer (positive) for item #{item_id} was not saved")
    expect(banner).to_contain_text("unknown label")
    expect(page.locator("#hl-session-count")).to_have_text("0")
    wait_until_saved(page)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "labeling-error.png"))
    banner.get_by_role("button", name="Dismiss").click()
    expect(banner).to_be_hidden()
    assert active_answers(ctx, project_id) == {}

    # Once the label exists again, Back shows the unsaved answer and Enter saves it.
    set_labels(["positive", "negative", "neutral"])
    page.keyboard.press("Backspace")
    expect(page.locator("#hl-meta")).to_have_text(f"#{item_id}")
    expect(page.locator("#hl-review")).to_contain_text("not saved")
    assert pressed(page) == ["positive"]
    page.keyboard.press("Enter")
    wait_until_saved(page)
    assert active_answers(ctx, project_id) == {item_id: {"label": "positive"}}
    expect(page.locator("#hl-project-labeled")).to_have_text("1")
    expect(page.locator("#hl-session-count")).to_have_text("1")


def test_answers_wait_while_logged_out_and_are_sent_after_logging_in_again(
    page: Page, server: str, ctx: AppContext, admin: CurrentUser
) -> None:
    project_id = text_project(ctx, admin, REVIEWS[:4])
    log_in(page, server, f"/projects/{project_id}/label")
    expect(page.locator("#hl-app")).to_have_attribute("data-mode", "item")
    first = shown_id(page)
    with ctx.db.write() as s:  # the session ends (expired, or logged out elsewhere)
        s.execute(update(DbSession).values(expires_at=0.0))
    ctx.db.memo.pop(CACHE_KEY, None)
    page.keyboard.press("3")
    page.keyboard.press("Enter")
    banner = page.locator("#hl-banner")
    expect(banner).to_contain_text("Your session has ended")
    expect(page.locator("#hl-save")).to_have_attribute("data-state", "error")
    assert active_answers(ctx, project_id) == {}

    other = page.context.new_page()
    other.goto(f"{server}/login")
    other.get_by_label("Username").fill("admin")
    other.get_by_label("Password").fill(ADMIN_PASSWORD)
    other.get_by_label("Password").press("Enter")
    expect(other).to_have_url(f"{server}/")
    other.close()

    banner.get_by_role("button", name="Retry").click()
    expect(banner).to_be_hidden()
    wait_until_saved(page)
    assert active_answers(ctx, project_id) == {first: {"label": "neutral"}}


def test_a_lost_request_is_retried_with_the_same_key(
    page: Page, server: str, ctx: AppContext, admin: CurrentUser
) -> None:
    project_id = text_project(ctx, admin, REVIEWS[:4])
    attempts: list[str] = []

    def flaky(route: Route) -> None:
        attempts.append(route.request.post_data or "")
        if len(attempts) == 1:
            route.abort("connectionreset")
        else:
            route.continue_()

    page.route("**/api/items/*/annotations", flaky)
    log_in(page, server, f"/projects/{project_id}/label")
    expect(page.locator("#hl-app")).to_have_attribute("data-mode", "item")
    page.keyboard.press("2")
    page.keyboard.press("Enter")
    wait_until_saved(page)
    assert len(attempts) == 2 and attempts[0] == attempts[1]
    assert [v["label"] for v in active_answers(ctx, project_id).values()] == ["negative"]


def test_leaving_the_page_releases_the_prefetched_items(
    page: Page, server: str, ctx: AppContext, admin: CurrentUser
) -> None:
    project_id = text_project(ctx, admin, REVIEWS)

    def leased() -> int:
        with ctx.db.read() as s:
            return len(list(s.scalars(select(Item.id).where(Item.state == "leased"))))

    log_in(page, server, f"/projects/{project_id}/label")
    expect(page.locator("#hl-app")).to_have_attribute("data-mode", "item")
    eventually(lambda: leased() == 4)
    page.goto(f"{server}/")
    # The item on screen stays reserved (a reload shows it again); the buffer goes back.
    eventually(lambda: leased() == 1)
