"""Login CSRF in Chromium: another site's form that posts to /login logs no one in."""

from __future__ import annotations

from playwright.sync_api import Page, Route, expect
from sqlalchemy import select

from hitloop.api.context import AppContext
from hitloop.db.tables import Session as DbSession
from hitloop.services import auth
from tests.web import browser

pytestmark = browser.MARKS
database_url = browser.database_url
no_script_errors = browser.no_script_errors
server = browser.server

EVIL = "http://evil.test/"


def test_another_sites_login_form_is_refused(page: Page, server: str, ctx: AppContext) -> None:
    auth.create_user(ctx.db, "mallory", "mallory-password")  # the attacker's own account
    page.goto(f"{server}/login")  # the victim has had the login form open: the cookie is there
    token = page.locator('input[name="csrf_token"]').input_value()
    hostile = (
        f'<form method="post" action="{server}/login">'
        '<input name="username" value="mallory"><input name="password" value="mallory-password">'
        f'<input name="csrf_token" value="{token}"><button>Win a prize</button></form>'
    )

    def serve(route: Route) -> None:
        route.fulfill(status=200, content_type="text/html", body=hostile)

    page.route(f"{EVIL}**", serve)
    page.goto(EVIL)
    page.get_by_role("button", name="Win a prize").click()
    expect(page.get_by_text("this form expired or came from another site")).to_be_visible()
    page.goto(f"{server}/")
    expect(page).to_have_url(f"{server}/login")  # not logged in as mallory
    with ctx.db.read() as s:
        assert s.scalars(select(DbSession)).all() == []

    # The form on our own page still logs in.
    page.get_by_label("Username").fill("mallory")
    page.get_by_label("Password").fill("mallory-password")
    page.get_by_label("Password").press("Enter")
    expect(page).to_have_url(f"{server}/")
