"""Hostile project names, label names and item texts render inert in a real Chromium.

Each page is loaded with a listener for Content-Security-Policy violations:
the CSP would block an injected inline script or handler, so a violation
(not only a script that ran) means the data escaped its text context.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Page, expect

from hitloop.api.context import AppContext
from hitloop.schemas import AnnotationIn, ItemIn, ProjectCreate
from hitloop.services import annotations, auth, items, projects, queue
from hitloop.services.auth import CurrentUser
from tests.web import browser
from tests.web.conftest import ADMIN_PASSWORD

pytestmark = browser.MARKS
database_url = browser.database_url
server = browser.server

PAYLOADS = [
    "<script>window.__xss='script'</script>",
    "</script><script>window.__xss='close-script'</script>",
    "<img src=x onerror=\"window.__xss='img'\">",
    '"><svg onload="window.__xss=\'svg\'">',
    "' autofocus onfocus='window.__xss=\"attr-single\"' x='",
    '" autofocus onfocus="window.__xss=\'attr-double\'" x="',
    "javascript:window.__xss='url'",
    "{{ 7*7 }}<!--",
]
NAME = " ".join(PAYLOADS[:4])
LABELS = [*PAYLOADS[2:], "plain"]
TEXT = "\n".join(PAYLOADS)

WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', e => window.__csp.push(e.violatedDirective));
window.alert = window.confirm = window.prompt = () => { window.__xss = 'dialog'; };
"""


@pytest.fixture
def hostile_project(ctx: AppContext, admin: CurrentUser) -> int:
    project = projects.create_project(
        ctx.db, admin.id, ProjectCreate(name=NAME, labels=LABELS, instructions=TEXT)
    )
    items.add_items(ctx.db, project.id, admin.id, [ItemIn(text=TEXT + "!" * i) for i in range(3)], ctx.limits)
    # Answers from another person, so pages that list answers (review, agreement) show the labels.
    other = auth.create_user(ctx.db, '<b onmouseover="window.__xss=1">eve</b>', "other-password")
    for label in LABELS[:2]:
        [item] = queue.next_items(ctx.db, project.id, other.id, count=1)
        body = AnnotationIn(value={"label": label}, client_key=f"xss-key-{item.id}")
        annotations.submit(ctx.db, other.id, item.id, body)
    return project.id


def _inert(page: Page) -> None:
    assert page.evaluate("window.__xss === undefined"), page.evaluate("window.__xss")
    assert page.evaluate("window.__csp") == []
    for selector in (
        "img[src='x']",
        "svg[onload]",
        "[onfocus]",
        "[onerror]",
        "[onmouseover]",
        "a[href^=javascript]",
    ):
        assert page.locator(selector).count() == 0, selector


PAGES = ["/", "/projects/{id}", "/projects/{id}/label", "/projects/{id}/review", "/projects/{id}/audit"]


def test_hostile_names_labels_and_texts_stay_text(page: Page, server: str, hostile_project: int) -> None:
    page.add_init_script(WATCH)
    page.goto(f"{server}/login")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_label("Password").press("Enter")
    expect(page).to_have_url(f"{server}/")
    for path in PAGES:
        page.goto(server + path.format(id=hostile_project))
        page.wait_for_load_state("networkidle")
        if path.endswith("/label"):
            expect(page.locator("#hl-app")).to_have_attribute("data-mode", "item")
            assert page.locator("#hl-stage .item-text").evaluate("el => el.textContent").startswith(TEXT)
            assert page.locator(".label-name").all_inner_texts() == LABELS
            page.keyboard.press("Tab")  # focus moves through the page: an injected onfocus would fire
        else:
            # The payloads are on the page, as text.
            expect(page.locator("main")).to_contain_text("onerror=")
        _inert(page)
