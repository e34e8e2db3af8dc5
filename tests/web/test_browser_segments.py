"""A long recording's transcript in a real Chromium: one row per segment, edited, submitted and exported."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import Page, expect

from hitloop.api.context import AppContext
from hitloop.ml.recognizer import Draft, Word
from hitloop.schemas import ProjectCreate
from hitloop.services import items, projects, speech
from hitloop.services.auth import CurrentUser
from tests.sounds import encode, silence
from tests.web import browser
from tests.web.test_browser_labeling import active_answers, log_in, wait_until_saved

pytestmark = browser.MARKS
database_url = browser.database_url
no_script_errors = browser.no_script_errors
server = browser.server

SEGMENTS = [
    (0.0, 2.5, [Word("good", 0.2, 0.6, 0.9), Word("morning", 0.6, 1.2, 0.8)]),
    (2.5, 5.25, [Word("the", 2.8, 3.0, 0.9), Word("train", 3.0, 3.5, 0.4), Word("is", 3.5, 3.7, 0.9)]),
    (5.25, 8.0, [Word("late", 5.5, 6.0, 0.7), Word("again", 6.0, 6.6, 0.6)]),
]


def test_edit_one_segment_submit_and_export_its_timings(
    page: Page, server: str, ctx: AppContext, admin: CurrentUser
) -> None:
    spec = ProjectCreate(name="Meetings", task="transcribe", modality="audio", labels=[])
    pid = projects.create_project(ctx.db, admin.id, spec).id
    item = items.add_audio(
        ctx.db, ctx.media, pid, admin.id, encode(silence(8.0)), filename="long.wav", limits=ctx.limits
    )
    pieces = [(a, b, Draft(words)) for a, b, words in SEGMENTS]
    speech._store_draft(ctx.db, pid, item, pieces, segmented=True)

    log_in(page, server, f"/projects/{pid}/label")
    rows = page.locator(".segment-row")
    expect(rows).to_have_count(3, timeout=30_000)
    expect(rows.locator(".segment-time")).to_have_text(["0:00.0–0:02.5", "0:02.5–0:05.3", "0:05.3–0:08.0"])
    for i, (_, _, words) in enumerate(SEGMENTS):
        expect(page.get_by_label(f"Segment {i + 1} transcript")).to_have_value(
            " ".join(w.text for w in words)
        )
    # A segment's time plays from its start.
    page.wait_for_function("() => document.querySelector('.audio-player audio').duration > 0")
    rows.nth(2).locator(".segment-time").click()
    start = page.evaluate("() => document.querySelector('.audio-player audio').currentTime")
    assert start == pytest.approx(5.25, abs=0.3)

    second = page.get_by_label("Segment 2 transcript")
    second.fill("the  train was\nlate ")  # spaces and line breaks are tidied on submit
    second.press("Control+Enter")
    wait_until_saved(page)
    expected = [
        {"start": 0.0, "end": 2.5, "text": "good morning"},
        {"start": 2.5, "end": 5.25, "text": "the train was late"},
        {"start": 5.25, "end": 8.0, "text": "late again"},
    ]
    assert active_answers(ctx, pid) == {
        item: {"text": "good morning the train was late late again", "segments": expected}
    }

    exported = page.request.get(f"{server}/api/projects/{pid}/export?format=jsonl")
    assert exported.status == 200
    [row] = [json.loads(line) for line in exported.text().splitlines()]
    assert row["item_id"] == item
    assert row["value"] == {"text": "good morning the train was late late again", "segments": expected}
