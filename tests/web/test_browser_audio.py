"""The audio player and transcript box in a real Chromium: play, seek, select, correct, submit."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
from playwright.sync_api import Page, expect

from hitloop.api.context import AppContext
from hitloop.formats.audio import decode_audio
from hitloop.ml.recognizer import SAMPLERATE, PocketSphinxRecognizer
from hitloop.schemas import ProjectCreate
from hitloop.services import items, projects, speech
from hitloop.services.auth import CurrentUser
from tests.sounds import encode, silence, speak
from tests.web import browser
from tests.web.test_browser_labeling import active_answers, log_in, wait_until_saved

pytestmark = browser.MARKS
database_url = browser.database_url
no_script_errors = browser.no_script_errors
server = browser.server

SCREENSHOTS = Path(__file__).resolve().parents[2] / "docs" / "images"
SPOKEN = "Please call Stella. Ask her to bring these things with her from the store."
SENTENCE = "please call stella ask her to bring these things with her from the store"


def _audio(page: Page, prop: str) -> Any:
    return page.evaluate(f"() => document.querySelector('.audio-player audio').{prop}")


def test_play_seek_select_correct_and_submit(
    page: Page, server: str, ctx: AppContext, admin: CurrentUser, tmp_path: Path
) -> None:
    voice, _ = decode_audio(speak(SPOKEN, tmp_path / "stella.wav"), samplerate=SAMPLERATE)
    recording = encode(np.concatenate([silence(0.5), voice, silence(1.0, seed=1)]))
    spec = ProjectCreate(name="Dictation", task="transcribe", modality="audio", labels=[])
    pid = projects.create_project(ctx.db, admin.id, spec).id
    item_id = items.add_audio(
        ctx.db, ctx.media, pid, admin.id, recording, filename="stella.wav", limits=ctx.limits
    )
    speech.transcribe_project(ctx.db, ctx.media, pid, recognizer=PocketSphinxRecognizer())
    draft = speech.draft_for(ctx.db, item_id)
    assert draft is not None

    log_in(page, server, f"/projects/{pid}/label")
    words = page.locator(".draft .word")
    expect(words).to_have_count(len(draft["words"]), timeout=30_000)
    unsure = sum(1 for _, confidence, _, _ in draft["words"] if confidence < 0.5)
    expect(page.locator(".draft .word.low")).to_have_count(unsure)
    box = page.get_by_label("Transcript")
    expect(box).to_have_value(draft["text"])
    expect(page.locator(".audio-time")).to_contain_text("/ 0:0")

    # Play with Space, pause again.
    page.locator("body").press("Space")
    page.wait_for_function("() => document.querySelector('.audio-player audio').currentTime > 0.3")
    expect(page.locator(".audio-player")).to_have_attribute("data-state", "playing")
    page.locator("body").press("Space")
    expect(page.locator(".audio-player")).to_have_attribute("data-state", "paused")

    # Seek by clicking the waveform at 60%.
    wave = page.locator(".audio-wave")
    bounds = wave.bounding_box()
    assert bounds is not None
    page.mouse.click(bounds["x"] + bounds["width"] * 0.6, bounds["y"] + bounds["height"] / 2)
    duration = _audio(page, "duration")
    assert _audio(page, "currentTime") == pytest.approx(0.6 * duration, abs=0.15)
    page.locator("body").press(",")
    assert _audio(page, "currentTime") == pytest.approx(max(0.0, 0.6 * duration - 5), abs=0.15)

    # Select a region by dragging, then slow down.
    page.mouse.move(bounds["x"] + bounds["width"] * 0.2, bounds["y"] + 40)
    page.mouse.down()
    page.mouse.move(bounds["x"] + bounds["width"] * 0.5, bounds["y"] + 40, steps=5)
    page.mouse.up()
    expect(page.locator(".audio-region")).to_contain_text("region")
    assert _audio(page, "currentTime") == pytest.approx(0.2 * duration, abs=0.15)
    page.locator("body").press("[")
    assert _audio(page, "playbackRate") == 0.75

    # Click a draft word to hear it: the player jumps to its start.
    last = draft["words"][-1]
    words.last.click()
    assert _audio(page, "currentTime") == pytest.approx(last[2], abs=0.3)
    page.locator("body").press("Space")  # the click started playback; pause for the picture

    # Correct the draft in the text box and submit from there.
    page.locator("body").press("t")
    expect(box).to_be_focused()
    box.fill(SPOKEN)
    page.screenshot(path=str(SCREENSHOTS / "transcribe-page.png"))
    box.press("Control+Enter")
    wait_until_saved(page)
    expect(page.locator("#hl-done")).to_be_visible()
    assert active_answers(ctx, pid) == {item_id: {"text": SPOKEN}}
    stats = speech.transcript_stats(ctx.db, pid)
    assert stats.transcripts == 1 and stats.words == len(SENTENCE.split())
