"""An invite link in Chromium: the owner makes it on the team panel; a newcomer signs up and lands there."""

from __future__ import annotations

from playwright.sync_api import Browser, Page, expect

from hitloop.api.context import AppContext
from hitloop.schemas import ProjectCreate
from hitloop.services import members, projects
from hitloop.services.auth import CurrentUser
from hitloop.types import Role
from tests.web import browser
from tests.web.conftest import ADMIN_PASSWORD

pytestmark = browser.MARKS
database_url = browser.database_url
no_script_errors = browser.no_script_errors
server = browser.server


def test_a_newcomer_opens_the_link_signs_up_and_lands_on_the_project(
    page: Page, browser: Browser, server: str, ctx: AppContext, admin: CurrentUser
) -> None:
    project = projects.create_project(ctx.db, admin.id, ProjectCreate(name="Birds", labels=["owl", "jay"]))
    page.goto(f"{server}/projects/{project.id}")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(ADMIN_PASSWORD)
    page.get_by_label("Password").press("Enter")
    expect(page).to_have_url(f"{server}/projects/{project.id}")

    form = page.get_by_role("form", name="Create an invite link")
    form.get_by_label("Role").select_option("annotator")
    form.get_by_role("button", name="Create invite link").click()
    link = page.get_by_label("Invite link").input_value()
    assert link.startswith(f"{server}/invite/hli_")
    page.get_by_role("link", name="Back to the project").click()
    expect(page.locator("table.invites tbody tr")).to_have_count(1)

    # Someone else, in a browser with no session: open the link, choose a name and password.
    newcomer = browser.new_context()
    other = newcomer.new_page()
    errors: list[str] = []
    other.on("pageerror", lambda exc: errors.append(str(exc)))
    other.goto(link)
    expect(other.get_by_role("heading", name="Join Birds")).to_be_visible()
    other.get_by_label("Choose a username").fill("nina")
    other.get_by_label("Choose a password").fill("nina-password")
    other.get_by_role("button", name="Create account and join").click()
    expect(other).to_have_url(f"{server}/projects/{project.id}")
    expect(other.locator('[data-role="annotator"]')).to_be_visible()
    other.goto(link)  # used: a clear error, nothing else
    expect(other.get_by_text("this invite was already used")).to_be_visible()
    newcomer.close()
    assert errors == []
    assert {m.username: m.role for m in members.list_members(ctx.db, project.id)}["nina"] is Role.ANNOTATOR
