"""A classify project on audio in a real Chromium: the player, and a label chosen by keyboard."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from playwright.sync_api import Page, expect

from hitloop.api.context import AppContext
from hitloop.schemas import ProjectCreate
from hitloop.services import items, projects
from hitloop.services.auth import CurrentUser
from tests.sounds import encode, silence, tone
from tests.web import browser
from tests.web.test_browser_labeling import active_answers, log_in, pressed, wait_until_saved

pytestmark = browser.MARKS
database_url = browser.database_url
no_script_errors = browser.no_script_errors
server = browser.server


def _audio(page: Page, prop: str) -> Any:
    return page.evaluate(f"() => document.querySelector('.audio-player audio').{prop}")


def test_audio_classify_shows_the_player_and_takes_a_label_by_keyboard(
    page: Page, server: str, ctx: AppContext, admin: CurrentUser
) -> None:
    spec = ProjectCreate(name="Calls", modality="audio", labels=["dog", "bird"])
    pid = projects.create_project(ctx.db, admin.id, spec).id
    seconds = {"low.wav": 2.0, "high.wav": 3.0}
    ids = {
        name: items.add_audio(
            ctx.db,
            ctx.media,
            pid,
            admin.id,
            encode(np.concatenate([tone(length, freq=220.0 if name == "low.wav" else 1760.0), silence(0.5)])),
            filename=name,
            limits=ctx.limits,
        )
        for name, length in seconds.items()
    }
    by_id = {item_id: name for name, item_id in ids.items()}

    log_in(page, server, f"/projects/{pid}/label")
    expect(page.locator("#hl-app")).to_have_attribute("data-mode", "item")
    player = page.locator("#hl-stage .audio-player")
    expect(player).to_be_visible()
    expect(page.locator(".label-btn")).to_have_count(2)
    first = int(page.locator("#hl-meta").inner_text().split()[0].lstrip("#"))
    page.wait_for_function("() => document.querySelector('.audio-player audio').duration > 0")
    assert _audio(page, "duration") == pytest.approx(seconds[by_id[first]] + 0.5, abs=0.05)
    assert _audio(page, "src").endswith(f"/api/items/{first}/media")

    # Space plays and pauses the recording here too.
    page.locator("body").press("Space")
    page.wait_for_function("() => document.querySelector('.audio-player audio').currentTime > 0.2")
    expect(player).to_have_attribute("data-state", "playing")
    page.locator("body").press("Space")
    expect(player).to_have_attribute("data-state", "paused")

    # Label by number key, Enter submits; the next recording gets its own player.
    page.keyboard.press("2")
    assert pressed(page) == ["bird"]
    page.keyboard.press("Enter")
    expect(page.locator("#hl-meta")).not_to_have_text(f"#{first}")
    second = int(page.locator("#hl-meta").inner_text().split()[0].lstrip("#"))
    page.wait_for_function(
        f"() => document.querySelector('.audio-player audio').src.endsWith('/api/items/{second}/media')"
    )
    page.keyboard.press("1")
    page.keyboard.press("Enter")
    wait_until_saved(page)
    assert active_answers(ctx, pid) == {first: {"label": "bird"}, second: {"label": "dog"}}
